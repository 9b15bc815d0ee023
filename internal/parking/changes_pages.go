package parking

import (
	"context"
	"net/http"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/web"
)

// The citizen's pages for changes of an issued permit (changes.go). Like
// the renewal they hang below the status page: the access code in its
// cookie proves the holder; without it they lead back to the status page.

func changePath(reference string) string  { return "/bewohnerparken/status/" + reference + "/aendern" }
func reissuePath(reference string) string { return "/bewohnerparken/status/" + reference + "/ersatz" }
func cancelPath(reference string) string  { return "/bewohnerparken/status/" + reference + "/rueckgabe" }

// changeView is the permit a change form changes.
type changeView struct {
	Number, Plate, ValidUntil string
	Fee                       string // the change fee, "" when free
	CancelPath                string
	// FollowOn is the reference of the issued renewal of the permit: its
	// permit follows this one and keeps the old plate and zone.
	FollowOn string
}

// changesStatus is what the status page says about changing the permit.
type changesStatus struct {
	Offered      bool   // the permit can be changed, reissued or cancelled
	Pending      string // reference of an open change or reissue
	PendingKind  string
	ReplacedBy   string // the permit that replaced this one
	Cancellation *Cancellation
	RefundLabel  string
	EndedOn      string
}

func (h *Handler) changesStatus(ctx context.Context, a Application) (*changesStatus, error) {
	p := a.Permit
	if p == nil {
		return nil, nil
	}
	cs := &changesStatus{ReplacedBy: p.ReplacedBy}
	if !p.EndedOn.IsZero() {
		cs.EndedOn = germanDay(p.EndedOn)
	}
	c, err := h.svc.Refund(ctx, a)
	if err != nil {
		return nil, err
	}
	if c != nil {
		cs.Cancellation = c
		cs.RefundLabel = FormatCents(c.RefundCents)
	}
	ref, kind, err := h.svc.OpenChange(ctx, a)
	if err != nil {
		return nil, err
	}
	if ref != "" && kind != "" {
		cs.Pending, cs.PendingKind = ref, kind.Label()
	}
	cs.Offered = h.svc.changeRefusal(a) == nil && cs.Pending == ""
	return cs, nil
}

// session returns the access code of the status page's cookie, or
// redirects to the status page and returns "".
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (ref, code string) {
	ref = r.PathValue("reference")
	code = h.codeFromCookie(r, ref)
	if code == "" {
		http.Redirect(w, r, "/bewohnerparken/status/"+ref, http.StatusSeeOther)
	}
	return ref, code
}

func (h *Handler) changeForm(ctx context.Context, a Application, f Form) (formData, error) {
	offer, err := h.svc.Offer(a.Municipality)
	if err != nil {
		return formData{}, err
	}
	d := h.newFormData(offer, f)
	d.Action = changePath(a.Reference)
	if p := a.Permit; p != nil {
		d.Change = &changeView{Number: p.Number, Plate: p.Plate, ValidUntil: germanDay(p.ValidUntil), CancelPath: cancelPath(a.Reference)}
		if fee := offer.Fees.ChangeCents; fee > 0 {
			d.Change.Fee = FormatCents(fee)
		}
		info, err := h.svc.Renewal(ctx, a)
		if err != nil {
			return formData{}, err
		}
		if info.PendingStatus == Issued {
			d.Change.FollowOn = info.Pending
		}
	}
	return d, nil
}

func (h *Handler) changePage(w http.ResponseWriter, r *http.Request) error {
	ref, code := h.session(w, r)
	if code == "" {
		return nil
	}
	a, f, err := h.svc.Changeable(r.Context(), ref, code)
	if err != nil {
		return err
	}
	d, err := h.changeForm(r.Context(), a, f)
	if err != nil {
		return err
	}
	d.IdempotencyKey = newIdempotencyKey()
	return h.pages.Render(w, r, http.StatusOK, "antrag.html", d)
}

func (h *Handler) changePost(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ref, code := h.session(w, r)
	if code == "" {
		return nil
	}
	a, err := h.svc.Get(r.Context(), ref, code)
	if err != nil {
		return err
	}
	if err := h.svc.changeRefusal(a); err != nil {
		return err
	}
	d, err := h.changeForm(r.Context(), a, changeForm(a, formFromRequest(r)))
	if err != nil {
		return err
	}
	return h.handleForm(w, r, d,
		func(f Form, key string) (Receipt, error) { return h.svc.Change(r.Context(), ref, code, f, key) },
		func(f *Form) error { return h.svc.CheckChange(r.Context(), ref, code, f) })
}

// reissueData is the page for a replacement after loss or damage.
type reissueData struct {
	App            Application
	Fee            string // "" when free
	ValidUntil     string
	IdempotencyKey string
	Error          string
}

func (h *Handler) reissueData(a Application, key string) (reissueData, error) {
	fee, err := h.svc.ReissueFee(a)
	if err != nil {
		return reissueData{}, err
	}
	d := reissueData{App: a, IdempotencyKey: key}
	if a.Permit != nil {
		d.ValidUntil = germanDay(a.Permit.ValidUntil)
	}
	if fee > 0 {
		d.Fee = FormatCents(fee)
	}
	return d, nil
}

func (h *Handler) reissuePage(w http.ResponseWriter, r *http.Request) error {
	ref, code := h.session(w, r)
	if code == "" {
		return nil
	}
	a, err := h.svc.Get(r.Context(), ref, code)
	if err != nil {
		return err
	}
	if err := h.svc.reissueRefusal(r.Context(), a); err != nil {
		return err
	}
	d, err := h.reissueData(a, newIdempotencyKey())
	if err != nil {
		return err
	}
	return h.pages.Render(w, r, http.StatusOK, "ersatz.html", d)
}

func (h *Handler) reissuePost(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ref, code := h.session(w, r)
	if code == "" {
		return nil
	}
	key := r.PostFormValue("idempotency_key")
	if len(key) != 32 {
		key = newIdempotencyKey()
	}
	rec, err := h.svc.Reissue(r.Context(), ref, code, r.PostFormValue("declared") == "ja", key)
	if err == nil {
		return h.pages.Render(w, r, http.StatusOK, "eingang.html", rec)
	}
	if !errs.Is(err, errs.Invalid) {
		return err
	}
	a, gerr := h.svc.Get(r.Context(), ref, code)
	if gerr != nil {
		return gerr
	}
	d, derr := h.reissueData(a, key)
	if derr != nil {
		return derr
	}
	d.Error = errs.MessageOf(err)
	if m := fieldMessages(err); m["declared"] != "" {
		d.Error = m["declared"]
	}
	return h.pages.Render(w, r, http.StatusUnprocessableEntity, "ersatz.html", d)
}

// cancelData is the page that confirms a cancellation.
type cancelData struct {
	App        Application
	Quote      Cancellation
	Refund     string
	EndedOn    string
	StatusPath string
}

func (h *Handler) cancelPage(w http.ResponseWriter, r *http.Request) error {
	ref, code := h.session(w, r)
	if code == "" {
		return nil
	}
	a, q, err := h.svc.CancellationQuote(r.Context(), ref, code)
	if err != nil {
		return err
	}
	return h.pages.Render(w, r, http.StatusOK, "rueckgabe.html", cancelData{App: a, Quote: q, Refund: FormatCents(q.RefundCents),
		EndedOn: germanDay(q.EndedOn), StatusPath: "/bewohnerparken/status/" + a.Reference})
}

func (h *Handler) cancelPost(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ref, code := h.session(w, r)
	if code == "" {
		return nil
	}
	if _, err := h.svc.Cancel(r.Context(), ref, code); err != nil {
		return err
	}
	http.Redirect(w, r, "/bewohnerparken/status/"+strings.ToUpper(ref)+"#ausweis", http.StatusSeeOther)
	return nil
}
