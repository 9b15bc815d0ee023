package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// static holds the files served under /static/: the vendored KERN UX design
// system (static/kern, see its SOURCE.md) and Rathaus's own stylesheet.
//
//go:embed static
var static embed.FS

// StaticPrefix is the URL path under which Assets serves its files; mount
// the Assets handler there: rt.Handle("GET "+web.StaticPrefix, assets).
const StaticPrefix = "/static/"

// Assets serves embedded files at content-hashed URLs:
// "kern/kern.min.css" is served as /static/kern/kern.min.<hash>.css, where
// <hash> is the start of the SHA-256 of the content, with
// "Cache-Control: public, max-age=31536000, immutable". A new build with a
// changed file gets a new URL; a browser never uses a stale copy, and old or
// unhashed URLs answer 404.
//
// url() and @import references in CSS files are rewritten to the hashed URLs
// of their targets before the CSS is hashed, so fonts and images a
// stylesheet loads are cached the same way and a changed font changes the
// stylesheet's URL too. A relative reference that names no embedded file is
// an error when the Assets are created.
type Assets struct {
	byName map[string]*asset // "kern/kern.min.css"
	byPath map[string]*asset // "/static/kern/kern.min.0123456789abcdef.css" (unescaped)
}

type asset struct {
	name        string
	url         string // escaped, as put into pages
	contentType string
	etag        string
	body        []byte
	gz          []byte // gzip of body, if that is clearly smaller
}

// NewAssets returns the Assets of the embedded static directory.
func NewAssets() (*Assets, error) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	return newAssets(sub)
}

func newAssets(fsys fs.FS) (*Assets, error) {
	raw := make(map[string][]byte)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		raw[name] = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("web: read static files: %w", err)
	}
	b := &assetBuilder{raw: raw, done: make(map[string]*asset), busy: make(map[string]bool)}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	a := &Assets{byName: make(map[string]*asset), byPath: make(map[string]*asset)}
	for _, name := range names {
		as, err := b.build(name)
		if err != nil {
			return nil, fmt.Errorf("web: static file %s: %w", name, err)
		}
		a.byName[name] = as
		u, err := url.PathUnescape(as.url)
		if err != nil {
			return nil, err
		}
		a.byPath[u] = as
	}
	return a, nil
}

// URL returns the hashed URL of the named file ("kern/kern.min.css"), or an
// error if there is no such file. Templates call it as {{asset "…"}}.
func (a *Assets) URL(name string) (string, error) {
	as, ok := a.byName[strings.TrimPrefix(name, "/")]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return as.url, nil
}

// ServeHTTP serves the file whose hashed URL is r.URL.Path, and 404 for
// every other path.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	as, ok := a.byPath[r.URL.Path]
	if !ok {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("404 Nicht gefunden\n"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", as.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	body, etag := as.body, as.etag
	if as.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = as.gz, strings.TrimSuffix(as.etag, `"`)+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	// ServeContent answers If-None-Match (304), Range and HEAD.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

type assetBuilder struct {
	raw  map[string][]byte
	done map[string]*asset
	busy map[string]bool // on the current reference path: cycle detection
}

func (b *assetBuilder) build(name string) (*asset, error) {
	if as, ok := b.done[name]; ok {
		return as, nil
	}
	if b.busy[name] {
		return nil, fmt.Errorf("reference cycle through %s", name)
	}
	b.busy[name] = true
	defer delete(b.busy, name)

	body := b.raw[name]
	if path.Ext(name) == ".css" {
		var err error
		if body, err = b.rewriteCSS(name, body); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:8])
	ext := path.Ext(name)
	hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
	as := &asset{
		name:        name,
		url:         (&url.URL{Path: StaticPrefix + hashed}).EscapedPath(),
		contentType: contentType(ext),
		etag:        `"` + hash + `"`,
		body:        body,
	}
	if compressible(as.contentType) {
		as.gz = gzipped(body)
	}
	b.done[name] = as
	return as, nil
}

// cssRef finds url(...) and @import "..." references; exactly one of the
// five groups is set per match.
var cssRef = regexp.MustCompile(`url\(\s*(?:"([^"]*)"|'([^']*)'|([^'"\s)]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')`)

var uriScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// rewriteCSS replaces relative references with the hashed URLs of their
// targets. Absolute URLs, data: URIs and fragment-only references stay.
func (b *assetBuilder) rewriteCSS(name string, css []byte) ([]byte, error) {
	var out bytes.Buffer
	last := 0
	for _, m := range cssRef.FindAllSubmatchIndex(css, -1) {
		var ref string
		group := 0
		for g := 1; g <= 5; g++ {
			if m[2*g] >= 0 {
				ref, group = string(css[m[2*g]:m[2*g+1]]), g
				break
			}
		}
		if ref == "" || strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "/") || uriScheme.MatchString(ref) {
			continue // empty, fragment, absolute or data: – nothing to resolve
		}
		p, suffix := ref, ""
		if i := strings.IndexAny(ref, "?#"); i >= 0 {
			p, suffix = ref[:i], ref[i:]
		}
		p, err := url.PathUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", ref, err)
		}
		target := path.Join(path.Dir(name), p)
		if strings.HasPrefix(target, "../") || target == ".." {
			return nil, fmt.Errorf("reference %q leaves the static directory", ref)
		}
		if _, ok := b.raw[target]; !ok {
			return nil, fmt.Errorf("reference %q: no static file %s", ref, target)
		}
		t, err := b.build(target)
		if err != nil {
			return nil, err
		}
		out.Write(css[last:m[0]])
		if group <= 3 {
			fmt.Fprintf(&out, `url("%s%s")`, t.url, suffix)
		} else {
			fmt.Fprintf(&out, `@import "%s%s"`, t.url, suffix)
		}
		last = m[1]
	}
	if last == 0 {
		return css, nil
	}
	out.Write(css[last:])
	return out.Bytes(), nil
}

func contentType(ext string) string {
	switch ext { // the ones that matter, independent of the host's mime.types
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".woff2":
		return "font/woff2"
	case ".woff":
		return "font/woff"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".md":
		return "text/markdown; charset=utf-8"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || contentType == "image/svg+xml" ||
		strings.HasPrefix(contentType, "application/json")
}

// gzipped returns the gzip of b if it saves at least a tenth, else nil.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if buf.Len() > len(b)*9/10 {
		return nil
	}
	return buf.Bytes()
}
