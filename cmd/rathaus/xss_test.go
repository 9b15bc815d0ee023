package main

import (
	"net/url"
	"strings"
	"testing"
)

// xssCorpus are inputs that run script if a page echoes them unescaped,
// in element content, in attribute values, or by closing the element they
// are put in.
var xssCorpus = []string{
	`<script>alert("xss-1")</script>`,
	`"><img src=x onerror=alert("xss-2")>`,
	`'><svg/onload=alert("xss-3")>`,
	`</textarea><script>alert("xss-4")</script>`,
	`<a href="javascript:alert('xss-5')">x</a>`,
	`{{template "content"}}<b onmouseover=alert("xss-6")>`,
	"<iframe srcdoc=\"<script>alert('xss-7')</script>\">",
}

// dangerous reports what of payload came back unescaped: a tag, or an
// event handler outside a quoted attribute.
func dangerous(page, payload string) bool {
	for _, frag := range []string{"<script>alert", "<img src=x onerror", "<svg/onload", "</textarea><script", `<a href="javascript:`, "<b onmouseover", "<iframe srcdoc"} {
		if strings.Contains(payload, frag) && strings.Contains(page, frag) {
			return true
		}
	}
	return false
}

// Every text field of the citizen pages that comes back on a page — the
// application form with its kept values, the status lookup, the zone
// search, the staff sign-in — comes back escaped.
func TestXSSCorpusComesBackEscaped(t *testing.T) {
	s := demoServer(t)
	post := func(path string, form url.Values) response {
		return s.do(t, "POST", path, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	}
	for _, p := range xssCorpus {
		for _, field := range []string{"given_names", "family_name", "birth_date", "address", "plate", "email"} {
			form := url.Values{"given_names": {"Anna"}, "family_name": {"Muster"}, "birth_date": {"1980-01-01"}, "address": {"Lehrter Str. 53, 10557"},
				"plate": {"B-AB 123"}, "relation": {"holder"}, "duration_months": {"12"}, "email": {"a@example.org"}, "truthful": {"ja"}}
			form.Set(field, p)
			r := post("/bewohnerparken/antrag", form)
			if r.status >= 500 || dangerous(string(r.body), p) {
				t.Errorf("form field %s with %q: %d, the page echoes it unescaped", field, p, r.status)
			}
			// The form keeps what was entered: the payload did come back.
			if !strings.Contains(string(r.body), marker(p)) {
				t.Errorf("form field %s with %q: the value is not kept, so this test shows nothing", field, p)
			}
		}
		r := post("/bewohnerparken/status", url.Values{"reference": {p}, "access_code": {p}})
		if r.status >= 500 || dangerous(string(r.body), p) {
			t.Errorf("status lookup with %q: %d, unescaped", p, r.status)
		}
		r = s.get(t, "/zonen?address="+url.QueryEscape(p))
		if r.status >= 500 || dangerous(string(r.body), p) {
			t.Errorf("zone search with %q: %d, unescaped", p, r.status)
		}
		r = s.get(t, "/bewohnerparken/status/"+url.PathEscape(p))
		if r.status >= 500 || dangerous(string(r.body), p) {
			t.Errorf("status page path with %q: %d, unescaped", p, r.status)
		}
	}
	// The development provider's sign-in page keeps the user name.
	for _, p := range xssCorpus {
		r := post("/dev-idp/authorize", url.Values{"client_id": {demoClientID}, "redirect_uri": {s.base + "/sachbearbeitung/anmeldung"},
			"state": {"s"}, "nonce": {"n"}, "code_challenge": {"c"}, "scope": {"openid"}, "username": {p}, "password": {"x"}})
		if r.status >= 500 || dangerous(string(r.body), p) || !strings.Contains(string(r.body), marker(p)) {
			t.Errorf("sign-in with user name %q: %d, unescaped or not kept", p, r.status)
		}
	}
}

// marker is the payload's "xss-N", which survives any escaping.
func marker(p string) string {
	i := strings.Index(p, "xss-")
	return p[i : i+5]
}
