package parking

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/web"
)

// Pages of documents and requests for missing information: the citizen's
// upload on the status page, the clerk's request and the document viewer
// of the workbench (documents.go has the rules).

// BodyLimit returns the body limit of the feature's file uploads, whose
// bodies may be larger than the installation's body limit: a citizen's
// documents (UploadBodyLimit) and the Fachadministration's zones file; 0
// for every other request. The server asks before the request is routed.
func BodyLimit(r *http.Request) int64 {
	switch {
	case r.Method != http.MethodPost:
		return 0
	case strings.HasPrefix(r.URL.Path, "/bewohnerparken/status/") && strings.HasSuffix(r.URL.Path, "/unterlagen"):
		return UploadBodyLimit
	case r.URL.Path == clerkQueuePath+"/zonen":
		return maxZonesFile + 64<<10
	}
	return 0
}

// maxUploadParts bounds the parts of an upload form (files, message, kind).
const maxUploadParts = 10

// readUploadForm reads a multipart upload form part by part, never more
// than the limits allow into memory: files of the field "dokumente", the
// other fields as text of at most 16 KiB.
func readUploadForm(r *http.Request) ([]Upload, map[string]string, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, errs.E(errs.Invalid, "Das Formular konnte nicht gelesen werden; bitte senden Sie es von der Statusseite aus.")
	}
	var files []Upload
	fields := map[string]string{}
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, uploadReadError(err)
		}
		if n >= maxUploadParts {
			return nil, nil, errs.E(errs.Invalid, "Das Formular hat zu viele Teile.")
		}
		switch name := p.FormName(); {
		case name == "dokumente":
			b, err := io.ReadAll(io.LimitReader(p, maxDocumentBytes+1))
			if err != nil {
				return nil, nil, uploadReadError(err)
			}
			if p.FileName() == "" && len(b) == 0 {
				continue // the file field left empty
			}
			if len(b) > maxDocumentBytes {
				return nil, nil, errs.Field("dokumente", "Die Datei „%s“ ist größer als %d MB. Bitte verkleinern Sie sie (zum Beispiel als PDF mit geringerer Auflösung).",
					displayName(p.FileName()), maxDocumentBytes>>20)
			}
			if len(files) == maxFilesPerUpload {
				return nil, nil, errs.Field("dokumente", "Bitte laden Sie höchstens %d Dateien auf einmal hoch.", maxFilesPerUpload)
			}
			files = append(files, Upload{Name: p.FileName(), Content: b})
		default:
			b, err := io.ReadAll(io.LimitReader(p, 16<<10+1))
			if err != nil {
				return nil, nil, uploadReadError(err)
			}
			if len(b) > 16<<10 {
				return nil, nil, errs.Field(name, "Die Angabe ist zu lang.")
			}
			fields[name] = string(b)
		}
	}
	return files, fields, nil
}

// uploadReadError turns a failed read of the form into its answer: too
// large (413) stays what it is, anything else is a malformed form.
func uploadReadError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	}
	return errs.Wrap(errs.Invalid, err, "Das Formular konnte nicht gelesen werden.")
}

// docsStatus is what the status page shows of documents and requests.
type docsStatus struct {
	Enabled   bool         // the installation takes uploads
	Request   *requestView // the open request, if any
	Documents []docView
	Kinds     []option // what the files are (without a request)
	Needed    string   // the document the relation to the vehicle needs ("" none)
	Errors    map[string]string
	Answer    string // the message as typed
	Sent      bool   // just sent
}

type requestView struct {
	Kind, Message, Due, By, At, Outcome, Answer string
	Open                                        bool
}

type docView struct {
	ID, Kind, Type, Size, At, Href string
	Image                          bool
}

var mediaLabels = map[string]string{mediaPDF: "PDF", mediaJPEG: "JPEG-Bild", mediaPNG: "PNG-Bild"}

func sizeLabel(n int64) string {
	switch {
	case n >= 1<<20:
		return strings.Replace(fmt.Sprintf("%.1f MB", float64(n)/(1<<20)), ".", ",", 1)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+512)>>10)
	}
	return fmt.Sprintf("%d Bytes", n)
}

func docViews(docs []Document, href func(Document) string) []docView {
	out := make([]docView, 0, len(docs))
	for _, d := range docs {
		v := docView{ID: d.ID, Kind: d.KindLabel(), Type: mediaLabels[d.MediaType], Size: sizeLabel(d.Size), At: berlinTime(d.UploadedAt),
			Image: d.MediaType != mediaPDF}
		if href != nil {
			v.Href = href(d)
		}
		out = append(out, v)
	}
	return out
}

func requestViewOf(r InfoRequest) requestView {
	v := requestView{Kind: r.KindLabel(), Message: r.Message, Due: germanDay(r.DueOn), By: r.ByName, At: berlinTime(r.RequestedAt),
		Open: r.Open(), Answer: r.Answer}
	switch r.Outcome {
	case "answered":
		v.Outcome = "beantwortet am " + berlinTime(r.ClosedAt)
	case "expired":
		v.Outcome = "Frist abgelaufen ohne Antwort"
	default:
		v.Outcome = "offen bis " + v.Due
	}
	return v
}

// docsStatusOf assembles the documents part of the status page; nil when
// there is nothing to show or to do.
func (h *Handler) docsStatusOf(ctx context.Context, a Application) (*docsStatus, error) {
	docs, err := h.svc.Documents(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	req, err := openInfoRequest(ctx, h.svc.db.Read(), a.ID)
	if err != nil {
		return nil, err
	}
	needs := a.Form.Relation != "" && a.Form.Relation != Holder
	if !uploadable(a.Status) {
		if len(docs) == 0 {
			return nil, nil
		}
		return &docsStatus{Documents: docViews(docs, nil)}, nil
	}
	d := &docsStatus{Enabled: h.svc.UploadsEnabled(), Documents: docViews(docs, nil), Errors: map[string]string{}}
	if req != nil {
		v := requestViewOf(*req)
		d.Request = &v
	} else {
		want := kindForRelation(a.Form.Relation)
		if needs {
			d.Needed, _ = kindLabel(want)
		}
		for _, k := range documentKinds {
			d.Kinds = append(d.Kinds, option{Value: k.ID, Label: k.Label, Selected: k.ID == want})
		}
	}
	return d, nil
}

// uploadPost takes the citizen's documents (and answer) for the case whose
// status page is open in this browser.
func (h *Handler) uploadPost(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("reference")
	code := h.codeFromCookie(r, ref)
	if code == "" {
		// The page's cookie expired meanwhile: the code is asked for again;
		// the files are not kept (they would have to wait somewhere).
		http.Redirect(w, r, "/bewohnerparken/status/"+ref, http.StatusSeeOther)
		return nil
	}
	files, fields, err := readUploadForm(r)
	if err == nil {
		_, err = h.svc.SubmitDocuments(r.Context(), ref, code, fields["art"], files, fields["nachricht"])
	}
	if err == nil {
		http.Redirect(w, r, "/bewohnerparken/status/"+ref+"?unterlagen=eingegangen#unterlagen", http.StatusSeeOther)
		return nil
	}
	if !errs.Is(err, errs.Invalid) && !errs.Is(err, errs.Conflict) {
		return err
	}
	// Shown again on the status page with the message next to the field;
	// the files must be chosen again (browsers do not keep them).
	return h.renderStatusWith(w, r, ref, code, http.StatusUnprocessableEntity, func(d *statusData) {
		if d.Docs == nil { // the case is no longer open for documents
			d.Docs = &docsStatus{Errors: map[string]string{}}
		}
		d.Docs.Answer = fields["nachricht"]
		fe := web.FieldErrors(err)
		for _, f := range fe {
			d.Docs.Errors[f.Parameter] = f.Detail
		}
		if len(fe) == 0 {
			d.Docs.Errors["dokumente"] = errs.MessageOf(err)
		}
	})
}

// The workbench's side.

func documentPath(reference, id string) string {
	return clerkQueuePath + "/" + reference + "/unterlagen/" + id
}

// documentData is the viewer page of one document.
type documentData struct {
	Clerk, Reference string
	Doc              docView
	Content          string // the content's URL
	PDF              bool
}

// clerkDocument shows one document inside the workbench: an image as
// such, a PDF in the browser's viewer. The content itself is fetched from
// clerkDocumentContent, which records the view.
func (h *Handler) clerkDocument(w http.ResponseWriter, r *http.Request, c Clerk) error {
	a, err := h.svc.caseOf(r.Context(), c, r.PathValue("reference"))
	if err != nil {
		return err
	}
	docs, err := h.svc.Documents(r.Context(), a.ID)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if d.ID == r.PathValue("id") {
			v := docViews([]Document{d}, nil)[0]
			return h.pages.Render(w, r, http.StatusOK, "unterlage.html", documentData{Clerk: c.Name, Reference: a.Reference, Doc: v,
				Content: documentPath(a.Reference, d.ID) + "/inhalt", PDF: d.MediaType == mediaPDF})
		}
	}
	return errs.E(errs.NotFound, "Diese Unterlage gibt es zu dem Antrag nicht.")
}

// clerkDocumentContent sends a document's content, decrypted, after the
// view is in the audit log. It may be shown inside the workbench's own
// pages only (frame-ancestors 'self'); it runs no script of its own
// (default-src 'none'), and an image is shown sandboxed.
func (h *Handler) clerkDocumentContent(w http.ResponseWriter, r *http.Request, c Clerk) error {
	ref := strings.ToUpper(strings.TrimSpace(r.PathValue("reference")))
	d, content, err := h.svc.OpenDocument(r.Context(), c, ref, r.PathValue("id"), clientAddr(r))
	if err != nil {
		return err
	}
	hd := w.Header()
	csp := "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
	ext := ".pdf"
	if d.MediaType != mediaPDF {
		csp += "; sandbox" // Chromium shows no PDF in a sandboxed document, so only images get it
		ext = map[string]string{mediaJPEG: ".jpg", mediaPNG: ".png"}[d.MediaType]
	}
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Content-Type", d.MediaType)
	hd.Set("Content-Length", strconv.Itoa(len(content)))
	hd.Set("Content-Disposition", `inline; filename="`+ref+"-"+d.ID+ext+`"`)
	hd.Set("Cache-Control", "no-store")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(content)
	return err
}

// clerkRequestInfo asks the citizen for a missing document.
func (h *Handler) clerkRequestInfo(w http.ResponseWriter, r *http.Request, c Clerk) error {
	return h.caseAction(w, r, c, func(ref string, d *caseData) error {
		d.RequestKind, d.RequestText, d.RequestDays = r.PostFormValue("nachforderung_art"), r.PostFormValue("nachforderung_text"), r.PostFormValue("nachforderung_frist")
		days, err := strconv.Atoi(strings.TrimSpace(d.RequestDays))
		if err != nil {
			return errs.Field("nachforderung_frist", "Bitte geben Sie die Frist in Tagen an (%d bis %d).", minRequestDays, maxRequestDays)
		}
		return h.svc.RequestInformation(r.Context(), c, ref, d.RequestKind, d.RequestText, days, clientAddr(r))
	})
}

// caseDocuments adds the documents, the requests and the request form to
// the case page.
func (h *Handler) caseDocuments(ctx context.Context, d *caseData) error {
	docs, err := h.svc.Documents(ctx, d.App.ID)
	if err != nil {
		return err
	}
	ref := d.App.Reference
	d.Documents = docViews(docs, func(doc Document) string { return documentPath(ref, doc.ID) })
	reqs, err := h.svc.InfoRequests(ctx, d.App.ID)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		d.Requests = append(d.Requests, requestViewOf(r))
	}
	want := d.RequestKind
	if want == "" {
		want = kindForRelation(d.App.Form.Relation)
	}
	d.RequestKinds = nil
	for _, k := range documentKinds {
		d.RequestKinds = append(d.RequestKinds, option{Value: k.ID, Label: k.Label, Selected: k.ID == want})
	}
	if d.RequestDays == "" {
		d.RequestDays = strconv.Itoa(defaultRequestDays)
	}
	d.RequestTextField = caseFieldView{Name: "nachforderung_text", Label: "Nachricht an die antragstellende Person",
		Hint:  "Was fehlt und warum; die Person liest diesen Text in der E-Mail und auf ihrer Statusseite (höchstens 2000 Zeichen).",
		Value: d.RequestText, Error: d.Errors["nachforderung_text"], Area: true}
	d.RequestDaysField = caseFieldView{Name: "nachforderung_frist", Label: "Frist in Tagen",
		Hint:  fmt.Sprintf("%d bis %d Tage; ohne Antwort kommt der Antrag danach zurück in die Liste.", minRequestDays, maxRequestDays),
		Value: d.RequestDays, Error: d.Errors["nachforderung_frist"]}
	return nil
}
