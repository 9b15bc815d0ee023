package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func TestDecodeJSON(t *testing.T) {
	type antrag struct {
		Kennzeichen string `json:"kennzeichen"`
		Jahre       int    `json:"jahre"`
		Halter      struct {
			Name string `json:"name"`
		} `json:"halter"`
	}
	tests := []struct {
		name   string
		ctype  string
		body   string
		kind   errs.Kind // meaningful only if fails
		fails  bool
		field  string
		msgHas string
	}{
		{"ok", "application/json", `{"kennzeichen":"B-XY-123","jahre":2}`, 0, false, "", ""},
		{"ok with charset", "application/json; charset=utf-8", `{"jahre":1}`, 0, false, "", ""},
		{"ok +json", "application/merge-patch+json", `{"jahre":1}`, 0, false, "", ""},
		{"trailing whitespace", "application/json", "{\"jahre\":1}\n\t ", 0, false, "", ""},
		{"no content type", "", `{"jahre":1}`, errs.Invalid, true, "", "Content-Type"},
		{"form content type", "application/x-www-form-urlencoded", `{"jahre":1}`, errs.Invalid, true, "", "Content-Type"},
		{"text/plain", "text/plain", `{"jahre":1}`, errs.Invalid, true, "", "Content-Type"},
		{"empty", "application/json", ``, errs.Invalid, true, "", "fehlt"},
		{"unknown field", "application/json", `{"jahre":1,"admin":true}`, errs.Invalid, true, "admin", "unbekannt"},
		{"two values", "application/json", `{"jahre":1}{"jahre":2}`, errs.Invalid, true, "", "genau ein Wert"},
		{"trailing garbage", "application/json", `{"jahre":1} x`, errs.Invalid, true, "", "genau ein Wert"},
		{"syntax", "application/json", `{"jahre":1,}`, errs.Invalid, true, "", "kein gültiges JSON"},
		{"truncated", "application/json", `{"jahre":`, errs.Invalid, true, "", "unvollständig"},
		{"wrong type", "application/json", `{"jahre":"zwei"}`, errs.Invalid, true, "jahre", "ganze Zahl"},
		{"wrong nested type", "application/json", `{"halter":{"name":5}}`, errs.Invalid, true, "halter.name", "Text"},
		{"too large", "application/json", `{"kennzeichen":"` + strings.Repeat("x", MaxJSONBytes) + `"}`, errs.TooLarge, true, "", "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/antraege", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			var dst antrag
			err := DecodeJSON(r, &dst)
			if !tt.fails {
				if err != nil {
					t.Fatalf("DecodeJSON: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeJSON succeeded, want %v error", tt.kind)
			}
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v has no kind", err)
			}
			if e.Kind != tt.kind || e.Field != tt.field || !strings.Contains(e.Message, tt.msgHas) {
				t.Errorf("got kind %v field %q message %q; want kind %v field %q message containing %q",
					e.Kind, e.Field, e.Message, tt.kind, tt.field, tt.msgHas)
			}
		})
	}
}

func TestDecodeJSONBadDestinationIsInternal(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	var notAPointer struct{}
	if err := DecodeJSON(r, notAPointer); err == nil || errs.KindOf(err) != errs.Internal {
		t.Errorf("err = %v (kind %v), want an Internal error", err, errs.KindOf(err))
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	if err := WriteJSON(w, http.StatusCreated, map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if w.Code != 201 || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != "{\"n\":1}\n" {
		t.Errorf("got %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}

	// An unencodable value fails before anything is written.
	w = httptest.NewRecorder()
	if err := WriteJSON(w, http.StatusOK, map[string]any{"f": func() {}}); err == nil {
		t.Fatal("WriteJSON of a func succeeded")
	}
	if w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Errorf("WriteJSON wrote %q before failing", w.Body)
	}
}
