package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Uploads through the whole server: the upload form may be larger than
// the body limit of other routes, but not unbounded; a file over 10 MB,
// too many files and a multipart bomb get a message, never a 5xx; a real
// PDF is taken.
func TestUploadLimits(t *testing.T) {
	s := demoServer(t)
	var rec receipt
	for _, r := range residents(t, s) {
		if strings.HasPrefix(r.Expect, "Auskunftssperre") && len(r.Plates) > 0 {
			_, rec = s.submit(t, applicationBody(r), "")
			break
		}
	}
	if rec.Reference == "" {
		t.Fatal("no demo resident with a blocked register entry")
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(s.base+"/bewohnerparken/status", url.Values{"reference": {rec.Reference}, "access_code": {rec.AccessCode}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("open the status page: %v %v", res, err)
	}
	res.Body.Close()
	path := s.base + "/bewohnerparken/status/" + rec.Reference + "/unterlagen"
	pdf := func(size int) []byte {
		b := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0"), size)...)
		return append(b, "\n%%EOF\n"...)
	}
	send := func(parts int, files ...[]byte) (int, string, time.Duration) {
		t.Helper()
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		for i := range parts {
			w.WriteField(fmt.Sprintf("x%d", i), "y")
		}
		for i, f := range files {
			fw, _ := w.CreateFormFile("dokumente", fmt.Sprintf("datei-%d.pdf", i))
			fw.Write(f)
		}
		w.Close()
		req, _ := http.NewRequest("POST", path, &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		start := time.Now()
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), time.Since(start)
	}
	for _, tc := range []struct {
		name   string
		parts  int
		files  [][]byte
		status int
		says   string
	}{
		{"file over 10 MB", 0, [][]byte{pdf(10<<20 + 1)}, 422, "größer als 10 MB"},
		{"four files", 0, [][]byte{pdf(10), pdf(11), pdf(12), pdf(13)}, 422, "höchstens 3 Dateien"},
		{"1,001 parts", 1001, nil, 422, "zu viele Teile"},
		{"body over the upload limit", 0, [][]byte{pdf(10 << 20), pdf(10 << 20), pdf(10 << 20), pdf(1 << 20)}, 413, ""},
		{"a PDF of 2 MB (over the general body limit)", 0, [][]byte{pdf(2 << 20)}, 303, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, page, _ := send(tc.parts, tc.files...)
			if status != tc.status || !strings.Contains(page, tc.says) {
				t.Errorf("%d, want %d saying %q\n%.400s", status, tc.status, tc.says, page)
			}
		})
	}
	// Other forms keep the general limit.
	r := s.do(t, "POST", "/bewohnerparken/status/"+rec.Reference+"/bezahlen", strings.NewReader(strings.Repeat("x", 2<<20)),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != 413 {
		t.Errorf("2 MB to another form: %d, want 413", r.status)
	}
}
