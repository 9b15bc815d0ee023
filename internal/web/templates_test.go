package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestRenderPage(t *testing.T) {
	s := newSite(t)
	resp := s.get("/hallo")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store by default", got)
	}
	b := body(t, resp)
	css, _ := s.assets.URL("kern/kern.min.css")
	own, _ := s.assets.URL("rathaus.css")
	if err := contains(b,
		`<html lang="de">`,
		`<title>Hallo – Musterstadt</title>`,
		`href="#inhalt">Zum Inhalt springen</a>`,
		`<main id="inhalt"`,
		`Hallo Welt</h1>`,
		"Vorgang "+resp.Header.Get(RequestIDHeader), // from the partial _gruss.html
		`href="`+css+`"`,
		`href="`+own+`"`,
		"Impressum", "Datenschutz", "Barrierefreiheit",
	); err != nil {
		t.Errorf("%v in\n%s", err, b)
	}
}

func TestRenderFailureSendsNothing(t *testing.T) {
	s := newSite(t)

	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/kaputt", nil)
	err := s.pages.Render(w, r, http.StatusOK, "kaputt.html", failing{})
	if err == nil {
		t.Fatal("Render succeeded")
	}
	if w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Errorf("Render failed but wrote %q with headers %v", w.Body, w.Header())
	}

	// Through Page, the error page replaces the half-rendered one.
	resp := s.get("/kaputt")
	b := body(t, resp)
	if resp.StatusCode != 500 || strings.Contains(b, "ANFANG-DER-SEITE") || strings.Contains(b, "exploded") {
		t.Errorf("status %d, body:\n%s", resp.StatusCode, b)
	}
	if !strings.Contains(b, "Ein interner Fehler ist aufgetreten") {
		t.Errorf("no error page:\n%s", b)
	}
	if strings.Count(b, "<html") != 1 {
		t.Errorf("%d <html> elements", strings.Count(b, "<html"))
	}
}

func TestRenderUnknownPage(t *testing.T) {
	s := newSite(t)
	w := httptest.NewRecorder()
	if err := s.pages.Render(w, httptest.NewRequest("GET", "/", nil), 200, "gibtsnicht.html", nil); err == nil {
		t.Error("Render of an unknown page succeeded")
	}
}

func TestRenderKeepsHandlerCacheControl(t *testing.T) {
	s := newSite(t)
	w := httptest.NewRecorder()
	w.Header().Set("Cache-Control", "public, max-age=300")
	if err := s.pages.Render(w, httptest.NewRequest("GET", "/", nil), 200, "hallo.html", map[string]string{"Name": "x"}); err != nil {
		t.Fatal(err)
	}
	if got := w.Header().Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("Cache-Control %q, want the handler's", got)
	}
}

func TestNewTemplatesErrors(t *testing.T) {
	assets, err := NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		fsys     fstest.MapFS
		patterns []string
	}{
		{"no content block", fstest.MapFS{"a.html": {Data: []byte(`{{define "title"}}A{{end}}`)}}, nil},
		{"no title block", fstest.MapFS{"a.html": {Data: []byte(`{{define "content"}}A{{end}}`)}}, nil},
		{"syntax error", fstest.MapFS{"a.html": {Data: []byte(`{{define "title"}}A{{end}}{{define "content"}}{{.X{{end}}`)}}, nil},
		{"same name twice", fstest.MapFS{
			"x/a.html": {Data: []byte(`{{define "title"}}A{{end}}{{define "content"}}A{{end}}`)},
			"y/a.html": {Data: []byte(`{{define "title"}}A{{end}}{{define "content"}}A{{end}}`)},
		}, []string{"x/*.html", "y/*.html"}},
		{"pattern matches nothing", fstest.MapFS{"a.html": {Data: []byte(`{{define "title"}}A{{end}}{{define "content"}}A{{end}}`)}}, []string{"seiten/*.html"}},
	}
	for _, tt := range tests {
		if _, err := NewTemplates(assets, tt.fsys, tt.patterns...); err == nil {
			t.Errorf("%s: NewTemplates succeeded", tt.name)
		}
	}
	if _, err := NewTemplates(assets, nil); err != nil {
		t.Errorf("error pages only: %v", err)
	}
}

// The shared templates use only classes that exist: KERN's in kern.min.css,
// Rathaus's own in rathaus.css.
func TestTemplateClassesExist(t *testing.T) {
	kern, err := static.ReadFile("static/kern/kern.min.css")
	if err != nil {
		t.Fatal(err)
	}
	own, err := static.ReadFile("static/rathaus.css")
	if err != nil {
		t.Fatal(err)
	}
	classAttr := regexp.MustCompile(`class="([^"]*)"`)
	for _, name := range []string{"templates/layout.html", "templates/error.html"} {
		src, err := templateFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// Template actions inside class attributes hold class names too.
		text := regexp.MustCompile(`\{\{[^}]*\}\}`).ReplaceAllString(string(src), " ")
		for _, m := range classAttr.FindAllStringSubmatch(text, -1) {
			for _, c := range strings.Fields(m[1]) {
				css := kern
				if strings.HasPrefix(c, "rathaus-") {
					css = own
				}
				if !regexp.MustCompile(`\.` + regexp.QuoteMeta(c) + `[^a-zA-Z0-9_-]`).Match(css) {
					t.Errorf("%s uses class %q, which no stylesheet defines", name, c)
				}
			}
		}
	}
}

// The Content-Security-Policy forbids inline scripts and styles, so the
// templates must not have any: they would silently not work.
func TestTemplatesHaveNoInlineCode(t *testing.T) {
	forbidden := regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, name := range []string{"templates/layout.html", "templates/error.html"} {
		src, err := templateFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if m := forbidden.Find(src); m != nil {
			t.Errorf("%s contains %q", name, m)
		}
	}
}
