package web

import (
	"net/http"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// ProblemTypeBase is the prefix of the "type" member of every problem+json
// response: type = ProblemTypeBase + slug, for example
// "https://rathaus.opencode.de/probleme/not-found". The URIs identify the kind
// of problem; clients compare them as strings and must not need to fetch them.
// They are part of the API contract: a slug, once published, never changes
// meaning (new kinds get new slugs).
const ProblemTypeBase = "https://rathaus.opencode.de/probleme/"

// problemInfo is everything the package says about one kind of problem.
// The German texts are the only place user-facing wording of this package
// lives; a second language is a second table keyed the same way.
type problemInfo struct {
	status int
	slug   string // last segment of the problem type URI
	title  string // problem+json "title": short, the same for every occurrence
	page   string // heading of the HTML error page
	detail string // message shown when the error carries none of its own
}

// kinds maps each errs.Kind to its status and texts. Status reads it; nothing
// else in Rathaus maps kinds to HTTP status codes.
var kinds = map[errs.Kind]problemInfo{
	errs.Internal: {
		status: http.StatusInternalServerError,
		slug:   "internal",
		title:  "Interner Fehler",
		page:   "Ein interner Fehler ist aufgetreten",
		detail: "Bei der Bearbeitung Ihrer Anfrage ist ein Fehler aufgetreten. Bitte versuchen Sie es später noch einmal.",
	},
	errs.Invalid: {
		status: http.StatusBadRequest,
		slug:   "invalid",
		title:  "Ungültige Eingabe",
		page:   "Ungültige Eingabe",
		detail: "Die Angaben sind nicht gültig. Bitte prüfen Sie Ihre Eingaben.",
	},
	errs.NotFound: {
		status: http.StatusNotFound,
		slug:   "not-found",
		title:  "Nicht gefunden",
		page:   "Seite nicht gefunden",
		detail: "Die angeforderte Seite oder Ressource gibt es nicht. Bitte prüfen Sie die Adresse.",
	},
	errs.Conflict: {
		status: http.StatusConflict,
		slug:   "conflict",
		title:  "Konflikt mit dem aktuellen Stand",
		page:   "Die Anfrage passt nicht zum aktuellen Stand",
		detail: "Der Vorgang wurde inzwischen geändert. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
	},
	errs.Forbidden: {
		status: http.StatusForbidden,
		slug:   "forbidden",
		title:  "Keine Berechtigung",
		page:   "Keine Berechtigung",
		detail: "Sie sind nicht berechtigt, diese Aktion auszuführen.",
	},
	errs.Unauthenticated: {
		status: http.StatusUnauthorized,
		slug:   "unauthenticated",
		title:  "Anmeldung erforderlich",
		page:   "Anmeldung erforderlich",
		detail: "Bitte melden Sie sich an, um fortzufahren.",
	},
	errs.Unavailable: {
		status: http.StatusServiceUnavailable,
		slug:   "unavailable",
		title:  "Dienst vorübergehend nicht erreichbar",
		page:   "Dienst vorübergehend nicht erreichbar",
		detail: "Ein benötigter Dienst antwortet gerade nicht. Bitte versuchen Sie es in einigen Minuten noch einmal.",
	},
	errs.TooLarge: {
		status: http.StatusRequestEntityTooLarge,
		slug:   "too-large",
		title:  "Anfrage zu groß",
		page:   "Die gesendeten Daten sind zu groß",
		detail: "Die gesendeten Daten überschreiten die zulässige Größe.",
	},
	errs.TooMany: {
		status: http.StatusTooManyRequests,
		slug:   "too-many-requests",
		title:  "Zu viele Anfragen",
		page:   "Zu viele Anfragen",
		detail: "Es kamen zu viele Anfragen in kurzer Zeit. Bitte warten Sie einen Moment.",
	},
}

// methodNotAllowed is not an errs.Kind: only the Router produces it, for a
// path that exists with other methods.
var methodNotAllowed = problemInfo{
	status: http.StatusMethodNotAllowed,
	slug:   "method-not-allowed",
	title:  "Methode nicht erlaubt",
	page:   "Diese Adresse kann so nicht aufgerufen werden",
	detail: "Diese Adresse unterstützt die verwendete HTTP-Methode nicht.",
}

// clientClosed is the status logged and counted when the client went away
// before the answer was ready (the status nginx uses for it). Nobody receives
// it; it keeps client disconnects out of the 5xx counts that page on-call.
const statusClientClosed = 499

// Texts of the error page that do not depend on the kind.
const (
	textRequestID = "Vorgangsnummer für den Support:"
	textHome      = "Zur Startseite"
	textFallback  = "Ein Fehler ist aufgetreten. Vorgangsnummer für den Support: "
)

// retryAfterSeconds is sent as Retry-After with every 503: long enough for a
// register or node to come back, short enough that people do not give up.
const retryAfterSeconds = "30"
