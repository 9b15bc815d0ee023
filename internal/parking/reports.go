package parking

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/identity"
	"opencode.de/rathaus/rathaus/internal/web"
)

// Reports for the Teamleitung: applications by status, zone and month,
// processing times and the share of automatic decisions, for the own
// municipality, on the page and as CSV. Counts only, no personal data.

// Report is the figures of one municipality.
type Report struct {
	Total      int
	ByStatus   []ReportCount // label → count, in the order of the state machine
	ByZone     []ReportCount // zone(s) → count, most first
	ByMonth    []ReportCount // YYYY-MM of the application → count, oldest first
	Decided    int           // applications with a first decision (approved or rejected)
	Automatic  int           // of them decided by the system
	MedianDays float64       // days from receipt to the first decision
	P90Days    float64
	Rows       []ReportRow // month × status × zone, for the CSV
}

// ReportCount is one line of a report.
type ReportCount struct {
	Label string
	Count int
}

// ReportRow is a line of the CSV.
type ReportRow struct {
	Month, Status, Zone string
	Count               int
}

// Report computes the figures of municipality ars.
func (s *Service) Report(ctx context.Context, ars string) (Report, error) {
	var r Report
	rows, err := s.db.Read().QueryContext(ctx, `SELECT applied_on, status, zone_id, count(*) FROM parking_applications
		WHERE municipality = $1 GROUP BY applied_on, status, zone_id`, ars)
	if err != nil {
		return r, err
	}
	byStatus, byZone, byMonth, cells := map[Status]int{}, map[string]int{}, map[string]int{}, map[ReportRow]int{}
	for rows.Next() {
		var day time.Time
		var st Status
		var zone string
		var n int
		if err := rows.Scan(&day, &st, &zone, &n); err != nil {
			rows.Close()
			return r, err
		}
		month := day.UTC().Format("2006-01")
		if zone == "" {
			zone = "ohne Zone"
		}
		r.Total += n
		byStatus[st] += n
		byZone[zone] += n
		byMonth[month] += n
		cells[ReportRow{Month: month, Status: string(st), Zone: zone}] += n
	}
	if err := rows.Close(); err != nil {
		return r, err
	}
	for _, st := range []Status{Received, Checking, Review, AwaitingInformation, Approved, AwaitingPayment, Issued, Rejected, Withdrawn} {
		if n := byStatus[st]; n > 0 {
			r.ByStatus = append(r.ByStatus, ReportCount{st.Label(), n})
		}
	}
	for z, n := range byZone {
		r.ByZone = append(r.ByZone, ReportCount{z, n})
	}
	slices.SortFunc(r.ByZone, func(a, b ReportCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Label, b.Label)
	})
	for m, n := range byMonth {
		r.ByMonth = append(r.ByMonth, ReportCount{m, n})
	}
	slices.SortFunc(r.ByMonth, func(a, b ReportCount) int { return strings.Compare(a.Label, b.Label) })
	for row, n := range cells {
		row.Count = n
		r.Rows = append(r.Rows, row)
	}
	slices.SortFunc(r.Rows, func(a, b ReportRow) int {
		if c := strings.Compare(a.Month, b.Month); c != 0 {
			return c
		}
		if a.Status != b.Status {
			return strings.Compare(a.Status, b.Status)
		}
		return strings.Compare(a.Zone, b.Zone)
	})

	// The first decision of each application: when, and by whom.
	rows, err = s.db.Read().QueryContext(ctx, `SELECT a.created_at, e.at, e.actor FROM parking_applications a
		JOIN parking_events e ON e.application_id = a.id
		WHERE a.municipality = $1 AND e.to_status IN ('approved', 'rejected') AND e.from_status IN ('checking', 'review')`, ars)
	if err != nil {
		return r, err
	}
	var days []float64
	for rows.Next() {
		var created, at time.Time
		var actor string
		if err := rows.Scan(&created, &at, &actor); err != nil {
			rows.Close()
			return r, err
		}
		days = append(days, at.Sub(created).Hours()/24)
		if actor == "system" {
			r.Automatic++
		}
	}
	if err := rows.Close(); err != nil {
		return r, err
	}
	r.Decided = len(days)
	if len(days) > 0 {
		slices.Sort(days)
		r.MedianDays = quantile(days, 0.5)
		r.P90Days = quantile(days, 0.9)
	}
	return r, nil
}

// quantile of sorted values, by the nearest rank.
func quantile(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// reportData is the report page's data.
type reportData struct {
	Clerk, Municipality string
	R                   Report
	AutomaticShare      string
	Median, P90         string
}

func daysText(d float64) string {
	return strconv.FormatFloat(d, 'f', 1, 64) + " Tage"
}

// clerkReport shows the report, or sends it as CSV (?format=csv).
func (h *Handler) clerkReport(w http.ResponseWriter, r *http.Request, c Clerk) error {
	rep, err := h.svc.Report(r.Context(), c.Municipality)
	if err != nil {
		return err
	}
	if err := h.svc.recordAccess(r.Context(), c, "", accessViewReport, clientAddr(r)); err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="bewohnerparken-%s-%s.csv"`, c.Municipality, h.svc.today().Format("2006-01-02")))
		cw := csv.NewWriter(w)
		cw.Write([]string{"monat", "status", "zone", "anzahl"})
		for _, row := range rep.Rows {
			cw.Write([]string{row.Month, row.Status, row.Zone, strconv.Itoa(row.Count)})
		}
		cw.Flush()
		return cw.Error()
	}
	d := reportData{Clerk: c.Name, Municipality: c.Municipality, R: rep, Median: "–", P90: "–", AutomaticShare: "–"}
	if rep.Decided > 0 {
		d.Median, d.P90 = daysText(rep.MedianDays), daysText(rep.P90Days)
		d.AutomaticShare = fmt.Sprintf("%d %% (%d von %d)", rep.Automatic*100/rep.Decided, rep.Automatic, rep.Decided)
	}
	return h.pages.Render(w, r, http.StatusOK, "berichte.html", d)
}

// lead is a page for the Teamleitung (role lead).
func (h *Handler) lead(fn clerkHandler) web.HandlerFunc {
	return h.staffOnly(fn, identity.RoleLead, "Berichte gibt es nur mit der Anmeldung für Beschäftigte (Rolle Teamleitung).")
}

// staffOnly is a page for staff with role; without staff sign-in (a
// casework key) there is no role to check, and the page is refused with
// refusal.
func (h *Handler) staffOnly(fn clerkHandler, role, refusal string) web.HandlerFunc {
	if h.Staff == nil {
		return func(w http.ResponseWriter, r *http.Request) error { return errs.E(errs.Forbidden, "%s", refusal) }
	}
	return h.Staff.Require(func(w http.ResponseWriter, r *http.Request, st *identity.Staff) error {
		return fn(w, r, staffClerk(st))
	}, role)
}
