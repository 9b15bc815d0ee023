package parking

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/vault"
)

// Documents and requests for missing information.
//
// A citizen uploads evidence on the status page (Überlassungserklärung,
// employer's confirmation, car-sharing contract, ...): PDF, JPEG or PNG,
// recognised by their content, never by name or the browser's type, at
// most maxDocumentBytes each. The content is sealed with the
// installation's document key (internal/vault, AES-256-GCM, bound to
// document and case) before it reaches the database; the key is not in
// the database. The same file uploaded twice (a retried form) is one
// document.
//
// A clerk who misses something asks for it: the case leaves the queue
// ("awaiting_information"), the citizen gets an e-mail and a task on the
// status page with the clerk's words and a deadline, and a reminder three
// days before it. The case returns to the queue when the citizen answers
// (documents and/or a message) or, without an answer, the day after the
// deadline (job parking.info_requests) — then it is decided on what is
// there. Every view of a document by staff is an entry of the audit log.

// Limits of uploads.
const (
	maxDocumentBytes  = 10 << 20 // one file
	maxFilesPerUpload = 3        // one form
	maxDocumentsCase  = 20       // one case
	maxAnswer         = 2000     // the citizen's message (runes)
	maxRequestText    = 2000     // the clerk's request (runes)
	// UploadBodyLimit bounds the body of an upload form: the files and a
	// margin for the other fields and the multipart framing.
	UploadBodyLimit = maxFilesPerUpload*maxDocumentBytes + 64<<10
	// maxImagePixels refuses images that would take hundreds of MB to
	// decode when displayed (decompression bombs).
	maxImagePixels = 60_000_000
	// reminderDaysBeforeDue: the reminder of an open request.
	reminderDaysBeforeDue = 3
)

// Media types accepted.
const (
	mediaPDF  = "application/pdf"
	mediaJPEG = "image/jpeg"
	mediaPNG  = "image/png"
)

// docKind is a kind of document a case may need.
type docKind struct{ ID, Label string }

// documentKinds are the kinds of documents, in the order the forms offer
// them.
var documentKinds = []docKind{
	{"ueberlassungserklaerung", "Überlassungserklärung der Halterin oder des Halters"},
	{"arbeitgeberbestaetigung", "Bestätigung des Arbeitgebers zum Firmenwagen"},
	{"carsharing_vertrag", "Carsharing-Vertrag"},
	{"fahrzeugschein", "Zulassungsbescheinigung Teil I (Fahrzeugschein)"},
	{"meldebescheinigung", "Meldebescheinigung"},
	{"sonstiges", "Sonstiger Nachweis"},
}

// kindLabel names a document kind; ok is false for an unknown one.
func kindLabel(id string) (string, bool) {
	for _, k := range documentKinds {
		if k.ID == id {
			return k.Label, true
		}
	}
	return "", false
}

// kindForRelation is the document a relation to the vehicle needs.
func kindForRelation(r Relation) string {
	switch r {
	case Borrowed:
		return "ueberlassungserklaerung"
	case CompanyCar:
		return "arbeitgeberbestaetigung"
	case CarSharing:
		return "carsharing_vertrag"
	}
	return "sonstiges"
}

// Upload is one file from a form: the name the citizen's computer gave it
// (for messages only; it is not stored) and its content.
type Upload struct {
	Name    string
	Content []byte
}

// Document is a stored document, without its content.
type Document struct {
	ID         string
	Kind       string
	MediaType  string
	Size       int64
	UploadedAt time.Time
	RequestID  string
}

// KindLabel names the document's kind.
func (d Document) KindLabel() string {
	l, _ := kindLabel(d.Kind)
	return l
}

// InfoRequest is a clerk's request for missing information.
type InfoRequest struct {
	ID, Kind, Message       string
	By, ByName              string
	RequestedAt             time.Time
	DueOn                   time.Time
	RemindedAt, ClosedAt    time.Time // zero: not yet
	Outcome, Answer         string
	applicationID, appState string
}

// Open reports whether the request waits for its answer.
func (r InfoRequest) Open() bool { return r.ClosedAt.IsZero() }

// KindLabel names the document asked for.
func (r InfoRequest) KindLabel() string {
	l, _ := kindLabel(r.Kind)
	return l
}

// sniff recognises a document by its content and returns its media type.
// A PDF starts with its header and ends with its end-of-file marker; an
// image's header must decode and name a size within maxImagePixels.
func sniff(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		tail := b[max(0, len(b)-2048):]
		if !bytes.Contains(tail, []byte("%%EOF")) {
			return "", errors.New("unvollständige PDF-Datei")
		}
		return mediaPDF, nil
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return "", errors.New("beschädigte PNG-Datei")
		}
		return mediaPNG, checkPixels(cfg)
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return "", errors.New("beschädigte JPEG-Datei")
		}
		return mediaJPEG, checkPixels(cfg)
	}
	return "", errors.New("weder PDF noch JPEG noch PNG")
}

func checkPixels(cfg image.Config) error {
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return fmt.Errorf("Bild mit %d × %d Pixeln (höchstens %d Megapixel)", cfg.Width, cfg.Height, maxImagePixels/1_000_000)
	}
	return nil
}

// checkUploads validates the files of one form and returns their media
// types.
func checkUploads(files []Upload) ([]string, error) {
	if len(files) > maxFilesPerUpload {
		return nil, errs.Field("dokumente", "Bitte laden Sie höchstens %d Dateien auf einmal hoch.", maxFilesPerUpload)
	}
	types := make([]string, len(files))
	for i, f := range files {
		name := displayName(f.Name)
		switch {
		case len(f.Content) == 0:
			return nil, errs.Field("dokumente", "Die Datei „%s“ ist leer.", name)
		case len(f.Content) > maxDocumentBytes:
			return nil, errs.Field("dokumente", "Die Datei „%s“ ist größer als %d MB. Bitte verkleinern Sie sie (zum Beispiel als PDF mit geringerer Auflösung).", name, maxDocumentBytes>>20)
		}
		t, err := sniff(f.Content)
		if err != nil {
			return nil, errs.Field("dokumente", "Die Datei „%s“ lässt sich nicht annehmen (%v). Bitte laden Sie ein PDF, JPEG oder PNG hoch.", name, err)
		}
		types[i] = t
	}
	return types, nil
}

// displayName shortens a file name for a message.
func displayName(n string) string {
	n = strings.TrimSpace(n)
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	if !utf8.ValidString(n) {
		n = strings.ToValidUTF8(n, "?")
	}
	if utf8.RuneCountInString(n) > 60 {
		n = string([]rune(n)[:57]) + "…"
	}
	if n == "" {
		n = "ohne Namen"
	}
	return n
}

// SetVault sets the keyring documents are sealed with; without one,
// uploads are refused (UploadsEnabled).
func (s *Service) SetVault(k *vault.Keyring) { s.vault = k }

// UploadsEnabled reports whether documents can be uploaded.
func (s *Service) UploadsEnabled() bool { return s.vault != nil }

// uploadable: the statuses in which a citizen may add documents.
func uploadable(st Status) bool {
	switch st {
	case Received, Checking, Review, AwaitingInformation:
		return true
	}
	return false
}

// documentAAD binds a sealed document to its row.
func documentAAD(id, applicationID string) []byte {
	return []byte("parking_document\x00" + id + "\x00" + applicationID)
}

// SubmitDocuments stores the citizen's files (and, with an open request,
// the answer) for the case reference that code opens. kind is what the
// files are when no request names it ("" for the document the relation
// to the vehicle needs). It returns how many new documents were stored: a
// file the case already has is not stored twice.
func (s *Service) SubmitDocuments(ctx context.Context, reference, code, kind string, files []Upload, answer string) (int, error) {
	row, err := s.authorised(ctx, reference, code)
	if err != nil {
		return 0, err
	}
	answer = strings.TrimSpace(answer)
	if utf8.RuneCountInString(answer) > maxAnswer {
		return 0, errs.Field("nachricht", "Ihre Nachricht ist zu lang (höchstens %d Zeichen).", maxAnswer)
	}
	if len(files) > 0 && s.vault == nil {
		return 0, errs.E(errs.Unavailable, "Das Hochladen von Unterlagen ist in dieser Installation nicht eingerichtet.")
	}
	if kind != "" {
		if _, ok := kindLabel(kind); !ok {
			return 0, errs.Field("art", "Bitte wählen Sie aus, was Sie einreichen.")
		}
	}
	types, err := checkUploads(files)
	if err != nil {
		return 0, err
	}
	now := s.now().UTC()
	stored := 0
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		row, err := getApp(ctx, tx, s.db.Engine, "id", row.ID, true)
		if err != nil {
			return err
		}
		if !uploadable(row.Status) {
			return errs.E(errs.Conflict, "Zu diesem Antrag lassen sich keine Unterlagen mehr einreichen; er ist „%s“.", row.Status.Label())
		}
		req, err := openInfoRequest(ctx, tx, row.ID)
		if err != nil {
			return err
		}
		switch {
		case req != nil:
			kind = req.Kind
		case kind == "":
			var sf storedForm
			if derr := json.Unmarshal([]byte(row.Data), &sf); derr == nil {
				kind = kindForRelation(sf.Relation)
			} else {
				kind = "sonstiges"
			}
		}
		if req != nil && len(files) == 0 && answer == "" {
			return errs.Field("dokumente", "Bitte laden Sie die erbetenen Unterlagen hoch oder schreiben Sie der Sachbearbeitung eine Nachricht.")
		}
		if req == nil && len(files) == 0 {
			return errs.Field("dokumente", "Bitte wählen Sie mindestens eine Datei aus.")
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM parking_documents WHERE application_id = $1`, row.ID).Scan(&have); err != nil {
			return err
		}
		if have+len(files) > maxDocumentsCase {
			return errs.Field("dokumente", "Zu diesem Antrag liegen schon %d Unterlagen vor; mehr als %d nimmt die Sachbearbeitung nicht an.", have, maxDocumentsCase)
		}
		var reqID sql.NullString
		if req != nil {
			reqID = sql.NullString{String: req.ID, Valid: true}
		}
		for i, f := range files {
			sum := sha256.Sum256(f.Content)
			id := newDocumentID()
			keyID, sealed := s.vault.Seal(f.Content, documentAAD(id, row.ID))
			res, err := tx.ExecContext(ctx, `INSERT INTO parking_documents (id, application_id, request_id, kind, media_type, size, sha256, key_id, content, uploaded_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (application_id, sha256) DO NOTHING`,
				id, row.ID, reqID, kind, types[i], len(f.Content), hex.EncodeToString(sum[:]), keyID, sealed, now)
			if err != nil {
				return fmt.Errorf("store document: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				stored++
			}
		}
		note := fmt.Sprintf("%d Unterlage(n) eingereicht", stored)
		if req != nil {
			if answer != "" {
				note += ", mit Nachricht"
			}
			if _, err := tx.ExecContext(ctx, `UPDATE parking_info_requests SET closed_at = $2, outcome = 'answered', answer = $3 WHERE id = $1 AND closed_at IS NULL`,
				req.ID, now, answer); err != nil {
				return err
			}
			return transition(ctx, tx, row.ID, AwaitingInformation, Review, "citizen", "Nachforderung beantwortet: "+note, now)
		}
		if stored == 0 {
			return nil // the same files again: nothing new, nothing to record
		}
		return addEvent(ctx, tx, row.ID, row.Status, row.Status, "citizen", note, now)
	})
	return stored, err
}

func newDocumentID() string {
	var b [12]byte
	rand.Read(b[:])
	return "doc_" + hex.EncodeToString(b[:])
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// Documents returns the documents of an application, oldest first,
// without their content.
func (s *Service) Documents(ctx context.Context, applicationID string) ([]Document, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, kind, media_type, size, uploaded_at, COALESCE(request_id, '')
		FROM parking_documents WHERE application_id = $1 ORDER BY uploaded_at, id`, applicationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Document
	for rows.Next() {
		var d Document
		if err := rows.Scan(&d.ID, &d.Kind, &d.MediaType, &d.Size, &d.UploadedAt, &d.RequestID); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// OpenDocument returns a document of a case of c's municipality with its
// content, after recording the view in the audit log.
func (s *Service) OpenDocument(ctx context.Context, c Clerk, reference, id, origin string) (Document, []byte, error) {
	a, err := s.caseOf(ctx, c, reference)
	if err != nil {
		return Document{}, nil, err
	}
	if s.vault == nil {
		return Document{}, nil, errs.E(errs.Unavailable, "Ohne Dokumentenschlüssel (RATHAUS_DOCUMENT_KEYS) lassen sich Unterlagen nicht öffnen.")
	}
	var d Document
	var keyID string
	var sealed []byte
	err = s.db.Read().QueryRowContext(ctx, `SELECT id, kind, media_type, size, uploaded_at, COALESCE(request_id, ''), key_id, content
		FROM parking_documents WHERE id = $1 AND application_id = $2`, id, a.ID).
		Scan(&d.ID, &d.Kind, &d.MediaType, &d.Size, &d.UploadedAt, &d.RequestID, &keyID, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, nil, errs.E(errs.NotFound, "Diese Unterlage gibt es zu dem Antrag nicht.")
	}
	if err != nil {
		return Document{}, nil, err
	}
	plain, err := s.vault.Open(keyID, sealed, documentAAD(d.ID, a.ID))
	if err != nil {
		return Document{}, nil, fmt.Errorf("open document %s: %w", d.ID, err)
	}
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: s.now().UTC(), Actor: c.Actor, Action: "parking.view_document",
			Object: "parking_application:" + a.ID, Municipality: c.Municipality, Origin: origin, Reason: "Unterlage " + d.ID})
		return err
	})
	if err != nil {
		return Document{}, nil, err
	}
	return d, plain, nil
}

// InfoRequests returns the requests of an application, oldest first.
func (s *Service) InfoRequests(ctx context.Context, applicationID string) ([]InfoRequest, error) {
	return infoRequests(ctx, s.db.Read(), `WHERE r.application_id = $1 ORDER BY r.requested_at, r.id`, applicationID)
}

const infoRequestSelect = `SELECT r.id, r.kind, r.message, r.requested_by, r.requested_by_name, r.requested_at, r.due_on,
	r.reminded_at, r.closed_at, r.outcome, r.answer, r.application_id FROM parking_info_requests r `

func infoRequests(ctx context.Context, q querier, where string, args ...any) ([]InfoRequest, error) {
	rows, err := q.QueryContext(ctx, infoRequestSelect+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []InfoRequest
	for rows.Next() {
		var r InfoRequest
		var reminded, closed sql.NullTime
		if err := rows.Scan(&r.ID, &r.Kind, &r.Message, &r.By, &r.ByName, &r.RequestedAt, &r.DueOn, &reminded, &closed,
			&r.Outcome, &r.Answer, &r.applicationID); err != nil {
			return nil, err
		}
		r.RemindedAt, r.ClosedAt, r.DueOn = reminded.Time, closed.Time, r.DueOn.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// openInfoRequest returns the open request of an application, or nil.
func openInfoRequest(ctx context.Context, q querier, applicationID string) (*InfoRequest, error) {
	rs, err := infoRequests(ctx, q, `WHERE r.application_id = $1 AND r.closed_at IS NULL`, applicationID)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// Deadlines a clerk may give (days from today).
const (
	minRequestDays     = 7
	maxRequestDays     = 42
	defaultRequestDays = 14
)

// RequestInformation asks the citizen of a case in review for a document
// (kind) with the clerk's message, answerable within days. The case leaves
// the queue until the answer or the deadline; the clerk who asks keeps the
// case (an unassigned case becomes theirs).
func (s *Service) RequestInformation(ctx context.Context, c Clerk, reference, kind, message string, days int, origin string) error {
	message = strings.TrimSpace(message)
	label, ok := kindLabel(kind)
	switch {
	case !ok:
		return errs.Field("nachforderung_art", "Bitte wählen Sie aus, welche Unterlage fehlt.")
	case message == "":
		return errs.Field("nachforderung_text", "Bitte schreiben Sie, was fehlt und warum; die antragstellende Person liest diesen Text.")
	case utf8.RuneCountInString(message) > maxRequestText:
		return errs.Field("nachforderung_text", "Der Text ist zu lang (höchstens %d Zeichen).", maxRequestText)
	case days < minRequestDays || days > maxRequestDays:
		return errs.Field("nachforderung_frist", "Bitte geben Sie eine Frist von %d bis %d Tagen.", minRequestDays, maxRequestDays)
	}
	now := s.now().UTC()
	due := s.today().AddDate(0, 0, days)
	return s.db.Transact(ctx, func(tx *sql.Tx) error {
		row, err := s.caseForUpdate(ctx, tx, c, reference)
		if err != nil {
			return err
		}
		if row.Status != Review {
			return errs.E(errs.Conflict, "Unterlagen lassen sich nur zu einem Antrag in Prüfung nachfordern; der Antrag ist „%s“.", row.Status.Label())
		}
		if row.Assignee != "" && row.Assignee != c.Actor {
			return errs.E(errs.Conflict, "Den Antrag bearbeitet %s. Übernehmen Sie ihn, wenn Sie Unterlagen nachfordern wollen.", row.AssigneeName)
		}
		if row.Assignee == "" {
			if _, err := tx.ExecContext(ctx, `UPDATE parking_applications SET assignee = $1, assignee_name = $2, assigned_at = $3 WHERE id = $4`,
				c.Actor, c.Name, now, row.ID); err != nil {
				return err
			}
		}
		id := newRequestID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO parking_info_requests (id, application_id, kind, message, requested_by, requested_by_name, requested_at, due_on)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, row.ID, kind, message, c.Actor, c.Name, now, due.Format(dateLayout)); err != nil {
			return fmt.Errorf("store request: %w", err)
		}
		if err := transition(ctx, tx, row.ID, Review, AwaitingInformation, c.Actor,
			fmt.Sprintf("Nachgefordert: %s, Frist bis %s", label, germanDay(due)), now); err != nil {
			return err
		}
		if err := s.sendMail(ctx, tx, s.infoRequestMail(row, label, message, due)); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: now, Actor: c.Actor, Action: "parking.request_information",
			Object: "parking_application:" + row.ID, Municipality: c.Municipality, Origin: origin, Reason: kind})
		return err
	})
}

func (s *Service) infoRequestMail(row appRow, label, message string, due time.Time) mail.Message {
	return s.letter(row.Municipality, emailOf(row), row.Reference, "Zu Ihrem Antrag "+row.Reference+" fehlen Unterlagen",
		"für Ihren Antrag auf einen Bewohnerparkausweis (Aktenzeichen "+row.Reference+") benötigen wir noch: "+label+".",
		"Nachricht der Sachbearbeitung:\n"+message,
		"Bitte laden Sie die Unterlagen bis zum "+germanDay(due)+" auf der Statusseite hoch – mit dem Zugangscode aus Ihrer Eingangsbestätigung:\n"+
			s.statusURL(row.Reference),
		"Erhalten wir bis dahin nichts, entscheiden wir nach den vorliegenden Angaben.")
}

// InfoRequestArgs sends reminders of open requests and returns cases
// whose deadline passed to the queue.
type InfoRequestArgs struct{}

// Kind implements river.JobArgs.
func (InfoRequestArgs) Kind() string { return "parking.info_requests" }

// InsertOpts: one run at a time.
func (InfoRequestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: 10 * time.Minute}}
}

type infoRequestWorker struct {
	river.WorkerDefaults[InfoRequestArgs]
	s *Service
}

func (w *infoRequestWorker) Work(ctx context.Context, job *river.Job[InfoRequestArgs]) error {
	reminded, expired, err := w.s.ProcessInfoRequests(ctx)
	if err != nil {
		return err
	}
	w.s.logger.Info("parking info requests done", "reminded", reminded, "expired", expired)
	return nil
}

// ProcessInfoRequests sends the reminders due (reminderDaysBeforeDue days
// before the deadline, once) and returns the cases whose deadline has
// passed to the queue. Each step is a transaction of its own that checks
// the request is still open, so a run twice or on two replicas does
// nothing twice.
func (s *Service) ProcessInfoRequests(ctx context.Context) (reminded, expired int, err error) {
	today := s.today()
	due, err := infoRequests(ctx, s.db.Read(), `WHERE r.closed_at IS NULL AND r.due_on < $1`, today.Format(dateLayout))
	if err != nil {
		return 0, 0, err
	}
	for _, r := range due {
		now := s.now().UTC()
		err := s.db.Transact(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE parking_info_requests SET closed_at = $2, outcome = 'expired' WHERE id = $1 AND closed_at IS NULL`, r.ID, now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil
			}
			row, err := getApp(ctx, tx, s.db.Engine, "id", r.applicationID, true)
			if err != nil {
				return err
			}
			if row.Status != AwaitingInformation {
				return nil
			}
			if err := transition(ctx, tx, row.ID, AwaitingInformation, Review, "system",
				"Frist zur Nachreichung am "+germanDay(r.DueOn)+" abgelaufen; Entscheidung nach Aktenlage", now); err != nil {
				return err
			}
			expired++
			return s.sendMail(ctx, tx, s.letter(row.Municipality, emailOf(row), row.Reference, "Frist zu Ihrem Antrag "+row.Reference+" abgelaufen",
				"die Frist für die erbetenen Unterlagen ("+r.KindLabel()+") ist am "+germanDay(r.DueOn)+" abgelaufen. "+
					"Wir entscheiden jetzt nach den vorliegenden Angaben.",
				"Den Stand sehen Sie auf der Statusseite:\n"+s.statusURL(row.Reference)))
		})
		if err != nil {
			return reminded, expired, err
		}
	}
	soon, err := infoRequests(ctx, s.db.Read(), `WHERE r.closed_at IS NULL AND r.reminded_at IS NULL AND r.due_on >= $1 AND r.due_on <= $2`,
		today.Format(dateLayout), today.AddDate(0, 0, reminderDaysBeforeDue).Format(dateLayout))
	if err != nil {
		return reminded, expired, err
	}
	for _, r := range soon {
		now := s.now().UTC()
		err := s.db.Transact(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE parking_info_requests SET reminded_at = $2 WHERE id = $1 AND closed_at IS NULL AND reminded_at IS NULL`, r.ID, now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil
			}
			row, err := getApp(ctx, tx, s.db.Engine, "id", r.applicationID, false)
			if err != nil {
				return err
			}
			reminded++
			return s.sendMail(ctx, tx, s.letter(row.Municipality, emailOf(row), row.Reference, "Erinnerung: Unterlagen zu Ihrem Antrag "+row.Reference,
				"wir erinnern Sie an die erbetenen Unterlagen zu Ihrem Antrag (Aktenzeichen "+row.Reference+"): "+r.KindLabel()+".",
				"Die Frist endet am "+germanDay(r.DueOn)+". Bitte laden Sie die Unterlagen auf der Statusseite hoch:\n"+s.statusURL(row.Reference)))
		})
		if err != nil {
			return reminded, expired, err
		}
	}
	return reminded, expired, nil
}

// WaitingCase is a case that waits for the citizen's answer.
type WaitingCase struct {
	Reference, Kind, AssigneeName string
	DueOn                         time.Time
}

// WaitingForInformation lists the municipality's cases that wait for the
// citizen's answer, the nearest deadline first, at most limit.
func (s *Service) WaitingForInformation(ctx context.Context, ars string, limit int) ([]WaitingCase, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT a.reference, r.kind, a.assignee_name, r.due_on
		FROM parking_applications a JOIN parking_info_requests r ON r.application_id = a.id AND r.closed_at IS NULL
		WHERE a.municipality = $1 AND a.status = $2 ORDER BY r.due_on, a.reference LIMIT $3`, ars, AwaitingInformation, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WaitingCase
	for rows.Next() {
		var w WaitingCase
		if err := rows.Scan(&w.Reference, &w.Kind, &w.AssigneeName, &w.DueOn); err != nil {
			return nil, err
		}
		w.DueOn = w.DueOn.UTC()
		out = append(out, w)
	}
	return out, rows.Err()
}
