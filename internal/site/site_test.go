package site

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/web"
)

func server(t *testing.T) *httptest.Server {
	t.Helper()
	assets, err := web.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(assets)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

var (
	hrefRE     = regexp.MustCompile(`<footer[\s\S]*</footer>`)
	footLinkRE = regexp.MustCompile(`href="(/[^"]*)"`)
	idRE       = regexp.MustCompile(` id="([^"]+)"`)
	labelRE    = regexp.MustCompile(`aria-labelledby="([^"]+)"`)
)

// TestFooterLinksResolve: every link in the layout's footer leads to a page
// of this package (they were 404 before it existed).
func TestFooterLinksResolve(t *testing.T) {
	srv := server(t)
	_, body := get(t, srv, "/impressum")
	footer := hrefRE.FindString(body)
	links := footLinkRE.FindAllStringSubmatch(footer, -1)
	if len(links) < 3 {
		t.Fatalf("footer has %d links, want the three legal pages:\n%s", len(links), footer)
	}
	for _, l := range links {
		if res, _ := get(t, srv, l[1]); res.StatusCode != 200 {
			t.Errorf("footer link %s: status %d, want 200", l[1], res.StatusCode)
		}
	}
}

func TestPages(t *testing.T) {
	srv := server(t)
	tests := []struct {
		path  string
		title string
		want  []string
	}{
		{"/impressum", "Impressum", []string{"§ 5 Digitale-Dienste-Gesetz", "§ 18 Abs. 2 Medienstaatsvertrag", "EUPL-1.2"}},
		{"/datenschutz", "Datenschutzerklärung", []string{"Art. 13", "Art. 77 DSGVO", "gekürzt", "keine Inhalte, Kartendienste"}},
		// The structure of a statement under § 12b BGG and § 7 BITV 2.0,
		// and what Rathaus really tests.
		{"/barrierefreiheit", "Erklärung zur Barrierefreiheit", []string{
			"Stand der Vereinbarkeit mit den Anforderungen", "Nicht barrierefreie Inhalte", "Erstellung dieser Erklärung",
			"Feedback und Kontakt", "Schlichtungsverfahren", "axe-core", "WCAG 2.1 der Stufen A und AA", "teilweise",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := get(t, srv, tt.path)
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("status %d, %s", res.StatusCode, res.Header.Get("Content-Type"))
			}
			if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("Cache-Control = %q, want public, max-age=300 (nothing personal on it)", cc)
			}
			if !strings.Contains(body, `<html lang="de">`) || strings.Count(body, "<h1") != 1 ||
				!strings.Contains(body, `<h1 class="kern-heading-large">`+tt.title+`</h1>`) {
				t.Errorf("want a German page with the one heading %q", tt.title)
			}
			for _, w := range append(tt.want, "Mustertext", "<mark>Platzhalter:") {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			// Every section is labelled by a heading that exists, and ids are unique.
			ids := map[string]int{}
			for _, m := range idRE.FindAllStringSubmatch(body, -1) {
				ids[m[1]]++
			}
			for id, n := range ids {
				if n > 1 {
					t.Errorf("id %q appears %d times", id, n)
				}
			}
			for _, m := range labelRE.FindAllStringSubmatch(body, -1) {
				if ids[m[1]] != 1 {
					t.Errorf("aria-labelledby=%q names no element", m[1])
				}
			}
		})
	}
	if res, _ := get(t, srv, "/impressum/x"); res.StatusCode != 404 {
		t.Errorf("/impressum/x: %d, want 404", res.StatusCode)
	}
}
