package parking

import (
	"net/http"

	"opencode.de/rathaus/rathaus/internal/web"
)

// The API for changes of an issued permit (changes.go). Like the renewal,
// each names the application that got the permit in the path; its access
// code (X-Access-Code) proves the holder.

// apiChange applies for a new plate and/or a new address. Fields left out
// of the body are taken from the application, except the declarations,
// which are made anew; the term is the permit's.
func (h *Handler) apiChange(w http.ResponseWriter, r *http.Request) error {
	var f Form
	if err := web.DecodeJSON(r, &f); err != nil {
		return err
	}
	ref, code := r.PathValue("reference"), r.Header.Get(AccessCodeHeader)
	prev, err := h.svc.Get(r.Context(), ref, code)
	if err != nil {
		return err
	}
	rec, err := h.svc.Change(r.Context(), ref, code, carryOver(f, prev.Form), r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	return h.writeReceipt(w, rec)
}

// apiReissue applies for a replacement of a lost or damaged permit.
func (h *Handler) apiReissue(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Declared bool `json:"declared"` // the permit is lost or damaged
	}
	if err := web.DecodeJSON(r, &body); err != nil {
		return err
	}
	rec, err := h.svc.Reissue(r.Context(), r.PathValue("reference"), r.Header.Get(AccessCodeHeader), body.Declared, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	return h.writeReceipt(w, rec)
}

type cancellationJSON struct {
	Permit       string `json:"permit"`
	EndedOn      string `json:"ended_on"`
	RefundCents  int64  `json:"refund_cents"`
	RefundRule   string `json:"refund_rule"`
	RefundStatus string `json:"refund_status,omitempty"` // ordered, booked
	Booking      string `json:"booking,omitempty"`       // the treasury's reference of the payout
}

func toCancellationJSON(c Cancellation) cancellationJSON {
	return cancellationJSON{Permit: c.Permit, EndedOn: c.EndedOn.Format(dateLayout), RefundCents: c.RefundCents, RefundRule: c.RefundRule,
		RefundStatus: c.Status, Booking: c.Booking}
}

// apiCancellationQuote says what a cancellation today would refund.
func (h *Handler) apiCancellationQuote(w http.ResponseWriter, r *http.Request) error {
	_, q, err := h.svc.CancellationQuote(r.Context(), r.PathValue("reference"), r.Header.Get(AccessCodeHeader))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, toCancellationJSON(q))
}

// apiCancel ends the permit today and orders the refund; repeating it
// answers with the same cancellation.
func (h *Handler) apiCancel(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.Cancel(r.Context(), r.PathValue("reference"), r.Header.Get(AccessCodeHeader))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, toCancellationJSON(c))
}
