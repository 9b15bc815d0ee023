package parking

import (
	"context"
	"crypto/ecdsa"
	"io"
	"strings"

	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/errs"
)

// RenderPermit writes the permit of an issued application as a PDF.
func (s *Service) RenderPermit(w io.Writer, a Application) error {
	p := a.Permit
	if p == nil || a.Status != Issued {
		return errs.E(errs.NotFound, "Für diesen Antrag ist noch kein Ausweis ausgestellt.")
	}
	if p.EndReason != "" {
		return errs.E(errs.Conflict, "Der Ausweis %s gilt nicht mehr (%s am %s); es gibt ihn daher nicht mehr zum Herunterladen.",
			p.Number, map[string]string{"replaced": "ersetzt", "cancelled": "zurückgegeben"}[p.EndReason], germanDay(p.EndedOn))
	}
	authority := s.authorityOf(a.Municipality)
	return documents.RenderPermitPDF(w, documents.PermitDocument{
		Authority:    authority,
		PermitNumber: p.Number,
		Plate:        p.Plate,
		Zones:        splitZones(p.ZoneID),
		ValidFrom:    p.ValidFrom,
		ValidUntil:   p.ValidUntil,
		IssuedAt:     p.IssuedAt,
		Token:        p.Token,
		VerifyURL:    s.BaseURL + "/pruefen/" + p.Token,
		Demo:         s.Demo,
		LegalNote:    "Gut sichtbar hinter der Windschutzscheibe auslegen. Gilt nur in der angegebenen Zone und nur für das angegebene Kennzeichen.",
	})
}

// VerifyResult is what the verification page shows.
type VerifyResult struct {
	Valid   bool
	Status  string // "gültig", "abgelaufen", "noch nicht gültig", "widerrufen", "unbekannt"
	Problem string // why a token was refused
	Claims  *documents.PermitClaims
}

// Verify checks a QR token: signature, dates, and — because a signature
// cannot be taken back — whether the permit still exists and is active.
func (s *Service) Verify(ctx context.Context, token string) VerifyResult {
	if len(token) > 2000 {
		return VerifyResult{Status: "ungültig", Problem: "Der Code ist zu lang."}
	}
	c, err := s.verifier.Verify(token, s.now())
	if err != nil {
		msg := errs.MessageOf(err)
		if msg == "" {
			msg = "Der Code ist nicht lesbar."
		}
		return VerifyResult{Status: "ungültig", Problem: msg}
	}
	res := VerifyResult{Claims: &c, Status: documents.Status(c, s.now())}
	p, err := permitByNumber(ctx, s.db.Read(), c.Permit)
	switch {
	case errs.Is(err, errs.NotFound):
		res.Status, res.Problem = "unbekannt", "Dieser Ausweis ist bei der ausstellenden Behörde nicht (mehr) verzeichnet."
	case err != nil:
		res.Status, res.Problem = "nicht prüfbar", "Das Verzeichnis der Ausweise ist gerade nicht erreichbar."
	case p.EndReason == "replaced":
		res.Status, res.Problem = "ungültig", "Dieser Ausweis wurde durch einen neuen Ausweis ersetzt (Fahrzeugwechsel, Umzug oder Verlust)."
	case p.EndReason == "cancelled":
		res.Status, res.Problem = "ungültig", "Dieser Ausweis wurde am "+germanDay(p.EndedOn)+" zurückgegeben."
	case p.Status != "active":
		res.Status = "widerrufen"
	case p.Plate != c.Plate || !strings.EqualFold(p.ZoneID, strings.Join(c.Zones, ",")):
		res.Status, res.Problem = "ungültig", "Die Angaben im Code stimmen nicht mit dem Verzeichnis überein."
	}
	res.Valid = res.Status == documents.StatusValid
	return res
}

// PublicKey is a verification key as published for offline verifiers.
type PublicKey struct {
	KeyID string `json:"kid"`
	PEM   string `json:"pem"`
}

// PublicKeys returns the keys permits are verified with: the key that
// signs now first, then the earlier ones whose permits may still be out
// there (Options.PreviousKeys).
func (s *Service) PublicKeys() ([]PublicKey, error) {
	keys := append([]*ecdsa.PublicKey{s.signer.PublicKey()}, s.previousKeys...)
	out := make([]PublicKey, 0, len(keys))
	for _, k := range keys {
		pem, err := documents.MarshalPublicKeyPEM(k)
		if err != nil {
			return nil, err
		}
		out = append(out, PublicKey{KeyID: documents.KeyID(k), PEM: string(pem)})
	}
	return out, nil
}
