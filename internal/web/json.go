package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// MaxJSONBytes is the largest request body DecodeJSON reads. API payloads
// of Rathaus are forms, not documents; files go elsewhere.
const MaxJSONBytes = 1 << 20

// WriteJSON writes v as a JSON response with the given status. v is encoded
// before anything is sent, so an encoding error (returned, Internal) leaves
// the response untouched for the error writer. Errors writing to the client
// are not returned: the client is gone and there is nothing left to do.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("web: encode %T as JSON: %w", v, err)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// DecodeJSON decodes the request body into dst, strictly:
//
//   - the Content-Type must be application/json or a +json type (this also
//     keeps plain HTML forms of other sites from posting to the API);
//   - fields dst does not have are rejected, not ignored;
//   - the body holds exactly one JSON value;
//   - at most MaxJSONBytes are read (less if BodyLimit set a lower limit).
//
// Errors in the input are errs.Invalid with a German message and, where one is
// known, the field at fault; an oversized body is errs.TooLarge. Only a dst
// that cannot be decoded into (a bug) gives an Internal error.
func DecodeJSON(r *http.Request, dst any) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return errs.E(errs.Invalid, "Der Inhalt muss als JSON gesendet werden (Content-Type: application/json).")
	}
	if r.Body == nil || r.Body == http.NoBody {
		return errs.E(errs.Invalid, "Der Inhalt fehlt.")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxJSONBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return &errs.Error{Kind: errs.Invalid, Message: "Nach dem JSON-Wert folgen weitere Daten; erwartet wird genau ein Wert.", Err: err}
	}
	return nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func jsonError(err error) error {
	var (
		mbe  *http.MaxBytesError
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		bad  *json.InvalidUnmarshalError
		kind = errs.Invalid
		msg  string
		fld  string
	)
	switch {
	case errors.As(err, &mbe):
		kind = errs.TooLarge
		msg = fmt.Sprintf("Der Inhalt ist zu groß (höchstens %s).", byteSize(mbe.Limit))
	case errors.As(err, &bad):
		return fmt.Errorf("web: DecodeJSON: %w", err) // a bug: Internal
	case errors.Is(err, io.EOF):
		msg = "Der Inhalt fehlt."
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "Der Inhalt ist unvollständig."
	case errors.As(err, &syn):
		msg = fmt.Sprintf("Der Inhalt ist kein gültiges JSON (Fehler bei Zeichen %d).", syn.Offset)
	case errors.As(err, &typ):
		fld = typ.Field
		msg = fmt.Sprintf("Der Wert hat den falschen Typ; erwartet wird %s.", typeName(typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		fld, _ = strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		msg = "Dieses Feld ist unbekannt."
	default:
		msg = "Der Inhalt konnte nicht gelesen werden."
	}
	return &errs.Error{Kind: kind, Field: fld, Message: msg, Err: err}
}

// typeName names a Go type as a person filling in a form would.
func typeName(t reflect.Type) string {
	if t == nil {
		return "ein anderer Wert"
	}
	switch t.Kind() {
	case reflect.String:
		return "ein Text"
	case reflect.Bool:
		return "ein Wahrheitswert (true oder false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "eine ganze Zahl"
	case reflect.Float32, reflect.Float64:
		return "eine Zahl"
	case reflect.Slice, reflect.Array:
		return "eine Liste"
	case reflect.Map, reflect.Struct:
		return "ein Objekt"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return "ein anderer Wert"
}

// byteSize formats n for a German message: "1 MiB", "512 KiB", "100 Bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " Bytes"
}

// ParseForm parses a request's form. A body over the limit keeps its
// *http.MaxBytesError (answered 413); anything else is invalid input.
func ParseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return errs.Wrap(errs.Invalid, err, "Das Formular konnte nicht gelesen werden.")
	}
	return nil
}
