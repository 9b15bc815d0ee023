package parking_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/vault"
)

// A minimal PDF and PNG, made here rather than checked in.
var testPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n" +
	"trailer << /Root 1 0 R >>\n%%EOF\n")

func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for x := range 40 {
		img.Set(x, 10, color.RGBA{200, 0, 0, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type upload struct {
	name    string
	content []byte
}

// postUpload sends the status page's upload form as a browser would.
func postUpload(t *testing.T, c *http.Client, base, ref string, fields map[string]string, files ...upload) (int, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for _, f := range files {
		fw, _ := w.CreateFormFile("dokumente", f.name)
		fw.Write(f.content)
	}
	if len(files) == 0 {
		w.CreateFormFile("dokumente", "") // the file field left empty
	}
	w.Close()
	req, _ := http.NewRequest("POST", base+"/bewohnerparken/status/"+ref+"/unterlagen", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(page)
}

func pageOf(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// The request for missing information, end to end on the pages: the clerk
// asks (bad input refused with the field's message), the case leaves the
// queue, the citizen sees the task, a file that is not what its name says
// is refused, real ones are stored sealed, the answer returns the case to
// the queue, a retried upload stores nothing twice, the clerk opens the
// documents (each view audited).
func TestInformationRequestAndUpload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		keys, _ := vault.Parse(vault.NewKey())
		f.svc.SetVault(keys)
		srv := f.pageServer(t)
		key, _ := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleCasework, "Sachbearbeitung")
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectBlocked]), "")
		if err != nil {
			t.Fatal(err)
		}
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		c := newClerk(t, srv.URL, key)
		casePath := "/sachbearbeitung/bewohnerparken/" + rec.Reference
		tok := c.token(rec.Reference)
		ask := func(form url.Values) answer {
			form.Set("token", tok)
			return c.do("POST", casePath+"/nachforderung", form, nil)
		}
		for _, tc := range []struct {
			form url.Values
			want string
		}{
			{url.Values{"nachforderung_art": {"fuehrerschein"}, "nachforderung_text": {"x"}, "nachforderung_frist": {"14"}}, "welche Unterlage fehlt"},
			{url.Values{"nachforderung_art": {"meldebescheinigung"}, "nachforderung_text": {"  "}, "nachforderung_frist": {"14"}}, "Bitte schreiben Sie, was fehlt"},
			{url.Values{"nachforderung_art": {"meldebescheinigung"}, "nachforderung_text": {"Bitte senden"}, "nachforderung_frist": {"3"}}, "Frist von 7 bis 42 Tagen"},
			{url.Values{"nachforderung_art": {"meldebescheinigung"}, "nachforderung_text": {"Bitte senden"}, "nachforderung_frist": {"bald"}}, "Frist in Tagen"},
		} {
			if res := ask(tc.form); res.code != http.StatusUnprocessableEntity || !strings.Contains(res.page, tc.want) {
				t.Errorf("request %v: %d, want 422 saying %q", tc.form, res.code, tc.want)
			}
		}
		const message = "Wegen der Auskunftssperre brauchen wir eine aktuelle Meldebescheinigung."
		if res := ask(url.Values{"nachforderung_art": {"meldebescheinigung"}, "nachforderung_text": {message}, "nachforderung_frist": {"14"}}); res.code != http.StatusSeeOther {
			t.Fatalf("request: %d\n%s", res.code, res.page)
		}
		got, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		if got.Status != parking.AwaitingInformation || got.Assignee != "clerk:"+keyID(key) {
			t.Fatalf("after the request: %s, assignee %q; want awaiting_information, the clerk", got.Status, got.Assignee)
		}
		if n := countAudit(t, db, "clerk:"+keyID(key), "parking.request_information", a.ID); n != 1 {
			t.Errorf("%d audit entries of the request, want 1", n)
		}
		ms := f.mails(t, rec.Reference)
		if last := ms[len(ms)-1]; !strings.Contains(last.Subject, "fehlen Unterlagen") || !strings.Contains(last.Body, message) ||
			!strings.Contains(last.Body, "/bewohnerparken/status/"+rec.Reference) {
			t.Errorf("request e-mail: %s\n%s", last.Subject, last.Body)
		}
		queue := c.get("/sachbearbeitung/bewohnerparken").page
		if !strings.Contains(queue, "Warten auf Unterlagen") || !strings.Contains(queue, rec.Reference) {
			t.Error("the queue does not list the case as waiting")
		}
		if res := ask(url.Values{"nachforderung_art": {"meldebescheinigung"}, "nachforderung_text": {"noch mal"}, "nachforderung_frist": {"14"}}); res.code != http.StatusConflict {
			t.Errorf("second request while waiting: %d, want 409", res.code)
		}

		citizen, status := citizenStatus(t, srv.URL, rec)
		if !strings.Contains(status, "Ihre Aufgabe: Unterlagen nachreichen") || !strings.Contains(status, message) {
			t.Fatalf("status page without the task:\n%s", status)
		}
		// Refused: a text file named .pdf, nothing at all, an image bomb header.
		if code, page := postUpload(t, citizen, srv.URL, rec.Reference, nil, upload{"meldebescheinigung.pdf", []byte("Ich bin kein PDF")}); code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, "weder PDF noch JPEG noch PNG") || !strings.Contains(page, "meldebescheinigung.pdf") {
			t.Errorf("fake PDF: %d\n%s", code, page)
		}
		if code, page := postUpload(t, citizen, srv.URL, rec.Reference, nil); code != http.StatusUnprocessableEntity || !strings.Contains(page, "Bitte laden Sie die erbetenen Unterlagen hoch") {
			t.Errorf("empty answer: %d", code)
		}
		bomb := testPNG(t)
		copy(bomb[16:24], []byte{0, 0, 0x7f, 0xff, 0, 0, 0x7f, 0xff}) // 32767 × 32767 pixels in the header
		if code, _ := postUpload(t, citizen, srv.URL, rec.Reference, nil, upload{"bild.png", bomb}); code != http.StatusUnprocessableEntity {
			t.Errorf("image bomb: %d, want 422", code)
		}
		if got, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode); got.Status != parking.AwaitingInformation {
			t.Fatalf("refused uploads changed the case: %s", got.Status)
		}
		// Accepted: a PNG whose name says PDF (the content decides) and a PDF.
		pngBytes := testPNG(t)
		files := []upload{{"scan.pdf", pngBytes}, {"meldebescheinigung.pdf", testPDF}}
		if code, page := postUpload(t, citizen, srv.URL, rec.Reference, map[string]string{"nachricht": "Anbei die Bescheinigung."}, files...); code != http.StatusSeeOther {
			t.Fatalf("upload: %d\n%s", code, page)
		}
		got = f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		docs, err := f.svc.Documents(f.ctx, got.ID)
		if err != nil || len(docs) != 2 || docs[0].MediaType == docs[1].MediaType {
			t.Fatalf("documents: %+v, %v", docs, err)
		}
		// A retried form stores nothing twice and changes nothing.
		events := len(got.Events)
		if code, _ := postUpload(t, citizen, srv.URL, rec.Reference, map[string]string{"nachricht": "Anbei die Bescheinigung."}, files...); code != http.StatusSeeOther {
			t.Errorf("retried upload: %d", code)
		}
		got, _ = f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		if docs, _ := f.svc.Documents(f.ctx, got.ID); len(docs) != 2 || len(got.Events) != events {
			t.Errorf("retried upload: %d documents, %d events; want 2, %d", len(docs), len(got.Events), events)
		}
		// Stored sealed: neither file's bytes are in the table.
		var stored [][]byte
		rows, err := db.Read().QueryContext(f.ctx, "SELECT content FROM parking_documents")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b []byte
			rows.Scan(&b)
			stored = append(stored, b)
		}
		rows.Close()
		for _, b := range stored {
			if bytes.Contains(b, []byte("%PDF")) || bytes.Contains(b, []byte("PNG")) || bytes.Contains(b, []byte("/Catalog")) {
				t.Error("a document is stored in the clear")
			}
		}
		if len(stored) != 2 {
			t.Errorf("%d stored documents, want 2", len(stored))
		}
		status = pageOf(t, citizen, srv.URL+"/bewohnerparken/status/"+rec.Reference)
		if strings.Contains(status, "Ihre Aufgabe") || !strings.Contains(status, "Meldebescheinigung") {
			t.Error("status page after the answer: want the documents, no task")
		}

		// The clerk sees and opens them; each opening is audited.
		page := c.get(casePath).page
		if !strings.Contains(page, "Anbei die Bescheinigung.") || !strings.Contains(page, "beantwortet am") {
			t.Error("case page without the answer")
		}
		for _, d := range docs {
			viewer := c.get(casePath + "/unterlagen/" + d.ID)
			if viewer.code != 200 || !strings.Contains(viewer.page, casePath+"/unterlagen/"+d.ID+"/inhalt") {
				t.Errorf("viewer of %s: %d", d.ID, viewer.code)
			}
			content := c.get(casePath + "/unterlagen/" + d.ID + "/inhalt")
			want := testPDF
			if d.MediaType == "image/png" {
				want = pngBytes
			}
			if content.code != 200 || content.page != string(want) || content.hdr.Get("Content-Type") != d.MediaType ||
				!strings.Contains(content.hdr.Get("Content-Security-Policy"), "frame-ancestors 'self'") || content.hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("content of %s: %d %q %q", d.ID, content.code, content.hdr.Get("Content-Type"), content.hdr.Get("Content-Security-Policy"))
			}
		}
		if n := countAudit(t, db, "clerk:"+keyID(key), "parking.view_document", a.ID); n != 2 {
			t.Errorf("%d audit entries of document views, want 2", n)
		}
		if res := c.get(casePath + "/unterlagen/doc_0000/inhalt"); res.code != http.StatusNotFound {
			t.Errorf("unknown document: %d", res.code)
		}
		// Sealed to its case: a document's blob moved to another case's row
		// does not open there.
		if _, err := db.Write().ExecContext(f.ctx, "UPDATE parking_documents SET content = (SELECT content FROM parking_documents WHERE id = $1) WHERE id = $2",
			docs[0].ID, docs[1].ID); err != nil {
			t.Fatal(err)
		}
		if res := c.get(casePath + "/unterlagen/" + docs[1].ID + "/inhalt"); res.code != http.StatusInternalServerError {
			t.Errorf("swapped blob: %d, want 500 (it must not open)", res.code)
		}
	}, sets...)
}

// Without an answer the case gets one reminder three days before the
// deadline and returns to the queue the day after it; a run twice does
// nothing twice.
func TestInformationRequestDeadline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db) // no vault: the citizen could still answer in words
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectBlocked]), "")
		if err != nil {
			t.Fatal(err)
		}
		f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		clerk := parking.Clerk{Actor: "clerk:t", Name: "Test", Municipality: demo.Berlin.ARS}
		if err := f.svc.RequestInformation(f.ctx, clerk, rec.Reference, "sonstiges", "Bitte Nachweis senden", 7, ""); err != nil {
			t.Fatal(err)
		}
		step := func(wantReminded, wantExpired int) {
			t.Helper()
			r, e, err := f.svc.ProcessInfoRequests(f.ctx)
			if err != nil || r != wantReminded || e != wantExpired {
				t.Fatalf("ProcessInfoRequests = %d reminded, %d expired, %v; want %d, %d", r, e, err, wantReminded, wantExpired)
			}
		}
		step(0, 0)
		f.clock.advance(4 * 24 * time.Hour) // 3 days left
		step(1, 0)
		step(0, 0)
		f.clock.advance(3 * 24 * time.Hour) // the last day
		step(0, 0)
		if a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode); a.Status != parking.AwaitingInformation {
			t.Fatalf("on the last day: %s", a.Status)
		}
		f.clock.advance(24 * time.Hour)
		step(0, 1)
		step(0, 0)
		a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		if a.Status != parking.Review || !strings.Contains(a.Events[len(a.Events)-1].Note, "abgelaufen") {
			t.Errorf("after the deadline: %s, %+v", a.Status, a.Events[len(a.Events)-1])
		}
		var subjects []string
		for _, m := range f.mails(t, rec.Reference) {
			subjects = append(subjects, m.Subject)
		}
		joined := strings.Join(subjects, "\n")
		if strings.Count(joined, "Erinnerung") != 1 || strings.Count(joined, "abgelaufen") != 1 {
			t.Errorf("e-mails:\n%s", joined)
		}
		// Without a document key, files are refused, words are taken.
		if err := f.svc.RequestInformation(f.ctx, clerk, rec.Reference, "sonstiges", "Noch einmal", 7, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SubmitDocuments(f.ctx, rec.Reference, rec.AccessCode, "", []parking.Upload{{Name: "a.pdf", Content: testPDF}}, ""); err == nil {
			t.Error("a file was taken without a document key")
		}
		if _, err := f.svc.SubmitDocuments(f.ctx, rec.Reference, rec.AccessCode, "", nil, "Ich habe keinen Nachweis."); err != nil {
			t.Fatal(err)
		}
		if a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode); a.Status != parking.Review {
			t.Errorf("after the answer in words: %s", a.Status)
		}
	}, sets...)
}

// What the clerk writes to the citizen, what the citizen answers and the
// name of a refused file come back escaped on both sides.
func TestInformationRequestEscapes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		keys, _ := vault.Parse(vault.NewKey())
		f.svc.SetVault(keys)
		srv := f.pageServer(t)
		key, _ := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleCasework, "Sachbearbeitung")
		c := newClerk(t, srv.URL, key)
		for i, payload := range []string{`<script>alert("x1")</script>`, `"><img src=x onerror=alert(2)>`, `</textarea><svg/onload=alert(3)>`} {
			rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectBlocked]), "esc-"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
			casePath := "/sachbearbeitung/bewohnerparken/" + rec.Reference
			res := c.do("POST", casePath+"/nachforderung", url.Values{"token": {c.token(rec.Reference)}, "nachforderung_art": {"sonstiges"},
				"nachforderung_text": {"Bitte " + payload}, "nachforderung_frist": {"14"}}, nil)
			if res.code != http.StatusSeeOther {
				t.Fatalf("request: %d", res.code)
			}
			citizen, status := citizenStatus(t, srv.URL, rec)
			if strings.Contains(status, payload) || !strings.Contains(status, "Bitte ") {
				t.Errorf("status page echoes the request unescaped (or not at all): %q", payload)
			}
			if _, page := postUpload(t, citizen, srv.URL, rec.Reference, nil, upload{payload + ".pdf", []byte("kein pdf")}); strings.Contains(page, payload) {
				t.Errorf("refused file name comes back unescaped: %q", payload)
			}
			if code, _ := postUpload(t, citizen, srv.URL, rec.Reference, map[string]string{"nachricht": "Antwort " + payload}); code != http.StatusSeeOther {
				t.Fatalf("answer: %d", code)
			}
			if page := c.get(casePath).page; strings.Contains(page, payload) || !strings.Contains(page, "Antwort ") {
				t.Errorf("case page echoes the answer unescaped (or not at all): %q", payload)
			}
		}
	}, sets...)
}
