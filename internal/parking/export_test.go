package parking

import (
	"context"

	"github.com/riverqueue/river"
)

// ExpirePayment runs the payment timeout job for paymentID once, as River
// would, and returns what the job returned.
func ExpirePayment(ctx context.Context, s *Service, paymentID string) error {
	w := &paymentTimeoutWorker{s: s}
	return w.Work(ctx, &river.Job[PaymentTimeoutArgs]{Args: PaymentTimeoutArgs{PaymentID: paymentID}})
}
