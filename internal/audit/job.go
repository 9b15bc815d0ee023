package audit

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/store"
)

// CheckpointInterval is how often the periodic job signs the head: what
// was appended since the last checkpoint is protected by the chain alone.
const CheckpointInterval = 5 * time.Minute

// CheckpointArgs is the periodic job that signs the log's head.
type CheckpointArgs struct{}

// Kind implements river.JobArgs.
func (CheckpointArgs) Kind() string { return "audit.checkpoint" }

// Signer makes the checkpoints of one installation.
type Signer struct {
	DB     *store.DB
	Key    *ecdsa.PrivateKey
	Logger *slog.Logger
}

type checkpointWorker struct {
	river.WorkerDefaults[CheckpointArgs]
	s *Signer
}

func (w *checkpointWorker) Work(ctx context.Context, _ *river.Job[CheckpointArgs]) error {
	seq, err := Checkpoint(ctx, w.s.DB, w.s.Key)
	if err == nil && seq > 0 {
		w.s.Logger.Info("audit checkpoint signed", "seq", seq, "key_id", KeyID(&w.s.Key.PublicKey))
	}
	return err
}

// Register adds the checkpoint worker.
func (s *Signer) Register(w *river.Workers) { river.AddWorker(w, &checkpointWorker{s: s}) }

// PeriodicJobs signs the head every CheckpointInterval, and once at start.
func (s *Signer) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(CheckpointInterval),
		func() (river.JobArgs, *river.InsertOpts) { return CheckpointArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}
