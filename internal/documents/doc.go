// Package documents issues what a citizen holds in hand after a decision:
// the printed Bewohnerparkausweis (residential parking permit, § 45 Abs. 1b
// Satz 1 Nr. 2a StVO) as a PDF, and the signed token in its QR code with
// which anyone holding the municipality's public key can check that a card
// is genuine.
//
// The pieces:
//
//   - Signer and Verifier make and check the token: PermitClaims (permit
//     number, ARS, plate, zones, validity dates, issue time) as a compact JWS
//     with alg ES256. Status says whether verified claims are valid on a
//     given day, counted in German time.
//   - GenerateKey, the PEM helpers and KeyID handle P-256 keys; KeyID is the
//     start of the key's RFC 7638 thumbprint.
//   - QRPNG draws a QR code (level M) as a PNG.
//   - RenderPermitPDF lays out the windscreen card (A5 landscape): plate,
//     zones, dates, permit number, authority, legal basis, QR code.
//
// What it deliberately does not do: it stores nothing and looks nothing up.
// Keys come from the caller, who decides where they live, how they are
// protected and when they rotate; a Verifier knows only the public keys it
// is given. Revocation is not in the token – a printed card cannot learn
// that it was withdrawn – so whoever verifies a token must also look the
// permit number up in the permit register. Nor does the package decide
// whether a permit should be issued, or deliver the PDF.
//
// # Why a compact ES256 JWS
//
// The token must fit a QR code that scans from behind a windscreen, must be
// checkable by other offices and enforcement software without our code, and
// must be signed with an algorithm the BSI accepts (TR-02102: ECDSA P-256).
// A typical permit gives a token of about 295 characters: QR version 13 at
// level M, 69 × 69 modules, 0.55 mm each at 42 mm.
//
// COSE_Sign1 (RFC 9052) with a CBOR payload, as in the EU Digital COVID
// Certificate, would be smaller: about 160 bytes, some 240 characters of
// Base45 in the QR code's alphanumeric mode, version 9 (53 × 53 modules)
// instead of 13. But it needs a CBOR and a COSE library on every verifying
// side and is opaque to the people debugging it, while JWS is in every
// language's toolbox and its parts are readable JSON. On a card that holds
// a 42 mm code the smaller symbol buys nothing: 0.55 mm modules scan easily.
//
// The JWS is written with the standard library (crypto/ecdsa,
// encoding/base64, encoding/json) rather than go-jose: the whole format is
// three base64url parts and an R || S signature (RFC 7515, RFC 7518 § 3.4),
// and a hand-written verifier that accepts exactly one header –
// {"alg":"ES256","kid":…}, byte for byte – cannot be talked into "none",
// HMAC with the public key, an embedded jwk or a jku URL, the classic JOSE
// pitfalls a general library has to be configured against. Tokens remain
// ordinary JWS: go-jose v4 and other libraries verify them, and a test checks
// the signature arithmetic against the ES256 example of RFC 7515
// Appendix A.3. The verifier is stricter than JWS requires: canonical
// base64url and JSON and a low-S signature, so that every valid token has
// exactly one spelling and cannot be altered into a second valid one.
package documents
