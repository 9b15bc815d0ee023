package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestAssetURLs(t *testing.T) {
	s := newSite(t)
	cssURL, err := s.assets.URL("kern/kern.min.css")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/static/kern/kern\.min\.[0-9a-f]{16}\.css$`).MatchString(cssURL) {
		t.Fatalf("URL = %q, want /static/kern/kern.min.<hash>.css", cssURL)
	}
	if _, err := s.assets.URL("kern/gibtsnicht.css"); err == nil {
		t.Error("URL of a missing file succeeded")
	}

	resp := s.get(cssURL)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", cssURL, resp.StatusCode)
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/css; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if !strings.Contains(body(t, resp), ".kern-container") {
		t.Error("served CSS is not KERN's")
	}

	wrongHash := regexp.MustCompile(`\.[0-9a-f]{16}\.`).ReplaceAllString(cssURL, ".0123456789abcdef.")
	for _, p := range []string{
		"/static/kern/kern.min.css", // unhashed
		wrongHash,                   // stale
		"/static/",
		"/static/kern/",
		"/static/kern/SOURCE.md",
	} {
		if resp := s.get(p); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	// ServeMux cleans dot segments first (a redirect); never a file outside static.
	if resp := s.get("/static/../templates/layout.html"); resp.StatusCode == 200 {
		t.Errorf("GET /static/../templates/layout.html: 200")
	}
}

// Every url() in every served stylesheet points to a file that is served.
func TestCSSReferencesResolve(t *testing.T) {
	s := newSite(t)
	ref := regexp.MustCompile(`url\("?([^")]+)"?\)`)
	var checked int
	for _, name := range []string{"kern/kern.min.css", "kern/fonts/fira-sans.css", "rathaus.css"} {
		u, err := s.assets.URL(name)
		if err != nil {
			t.Fatal(err)
		}
		css := body(t, s.get(u))
		for _, m := range ref.FindAllStringSubmatch(css, -1) {
			target := m[1]
			if strings.HasPrefix(target, "data:") {
				continue
			}
			if !strings.HasPrefix(target, StaticPrefix) {
				t.Errorf("%s: reference %q was not rewritten to a hashed URL", name, target)
				continue
			}
			resp := s.get(target)
			if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
				t.Errorf("%s: %s answers %d", name, target, resp.StatusCode)
			}
			if strings.HasSuffix(target, ".woff2") && resp.Header.Get("Content-Type") != "font/woff2" {
				t.Errorf("%s: Content-Type %q", target, resp.Header.Get("Content-Type"))
			}
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("only %d font references checked; fira-sans.css has 10", checked)
	}
}

func TestAssetsConditionalAndGzip(t *testing.T) {
	s := newSite(t)
	u, _ := s.assets.URL("kern/kern.min.css")
	plain := s.get(u)
	plainBody := body(t, plain)

	r := httptest.NewRequest("GET", u, nil)
	r.Header.Set("Accept-Encoding", "br, gzip;q=0.8")
	resp := s.do(r)
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("Content-Encoding %q Vary %q, want gzip", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if string(unzipped) != plainBody {
		t.Error("gzip body differs from the plain one")
	}

	r = httptest.NewRequest("GET", u, nil)
	r.Header.Set("Accept-Encoding", "gzip;q=0")
	if resp := s.do(r); resp.Header.Get("Content-Encoding") != "" {
		t.Error("sent gzip to a client that refused it")
	}

	r = httptest.NewRequest("GET", u, nil)
	r.Header.Set("If-None-Match", plain.Header.Get("ETag"))
	if resp := s.do(r); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
}

func TestAssetsRewriteCSS(t *testing.T) {
	fsys := fstest.MapFS{
		"a/style.css":  {Data: []byte(`@import "../b/base.css"; .x{background:url(img/i.png)} .y{src:url('img/i.png?v=1#f')} .z{mask:url("data:image/svg+xml,%3Csvg/%3E")} .w{background:url(https://example.org/x.png)}`)},
		"a/img/i.png":  {Data: []byte("PNG")},
		"b/base.css":   {Data: []byte(`.b{background:url("../a/img/i.png")}`)},
		"c/broken.css": {Data: []byte(`.c{background:url(missing.png)}`)},
		"d/one.css":    {Data: []byte(`@import "two.css";`)},
		"d/two.css":    {Data: []byte(`@import "one.css";`)},
		"e/escape.css": {Data: []byte(`.e{background:url(../../etc/passwd)}`)},
	}
	ok := fstest.MapFS{}
	for _, n := range []string{"a/style.css", "a/img/i.png", "b/base.css"} {
		ok[n] = fsys[n]
	}
	a, err := newAssets(ok)
	if err != nil {
		t.Fatal(err)
	}
	png, _ := a.URL("a/img/i.png")
	base, _ := a.URL("b/base.css")
	style := string(a.byName["a/style.css"].body)
	for _, want := range []string{
		`@import "` + base + `"`,
		`url("` + png + `")`,
		`url("` + png + `?v=1#f")`,
		`url("data:image/svg+xml,%3Csvg/%3E")`,
		`url(https://example.org/x.png)`,
	} {
		if !strings.Contains(style, want) {
			t.Errorf("rewritten CSS lacks %s:\n%s", want, style)
		}
	}
	if got := string(a.byName["b/base.css"].body); got != `.b{background:url("`+png+`")}` {
		t.Errorf("base.css = %s", got)
	}

	// A changed image changes the URL of the stylesheets that use it.
	ok2 := fstest.MapFS{}
	for k, v := range ok {
		ok2[k] = v
	}
	ok2["a/img/i.png"] = &fstest.MapFile{Data: []byte("PNG2")}
	a2, err := newAssets(ok2)
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := a.URL("a/style.css")
	s2, _ := a2.URL("a/style.css")
	if s1 == s2 {
		t.Error("stylesheet URL did not change when the image it references changed")
	}

	for _, bad := range []string{"c/broken.css", "d/one.css", "e/escape.css"} {
		m := fstest.MapFS{bad: fsys[bad]}
		if bad == "d/one.css" {
			m["d/two.css"] = fsys["d/two.css"]
		}
		if _, err := newAssets(m); err == nil {
			t.Errorf("%s: newAssets succeeded, want an error", bad)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := map[string]bool{
		"":                  false,
		"gzip":              true,
		"GZIP":              true,
		"br, gzip":          true,
		"gzip;q=0":          false,
		"gzip; q=0.000":     false,
		"gzip;q=0.5":        true,
		"deflate, identity": false,
		"x-gzip":            false,
	}
	for in, want := range tests {
		if got := acceptsGzip(in); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}

// The vendored KERN directory is complete: licence and provenance travel
// with the files.
func TestKernVendored(t *testing.T) {
	for _, name := range []string{"static/kern/LICENSE.md", "static/kern/SOURCE.md", "static/kern/kern.min.css", "static/kern/fonts/fira-sans.css"} {
		b, err := static.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name == "static/kern/LICENSE.md" && !bytes.Contains(b, []byte("EUPL")) {
			t.Errorf("%s is not the EUPL", name)
		}
	}
}
