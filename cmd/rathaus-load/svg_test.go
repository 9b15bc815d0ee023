package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func chartReport() runReport {
	within, over := true, false
	step := func(n int, rate, achieved, p50, p99 float64, ok *bool) stepReport {
		return stepReport{Step: n, Rate: rate, DurationS: 20, WithinLimits: ok,
			Total: &figures{AchievedRate: achieved, Latency: latencyMS{P50: p50, P99: p99}}}
	}
	return runReport{
		Started: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC),
		Config: openConfig{Mode: "step", Base: "http://127.0.0.1:8080/?a=1&b=<2>", Duration: "20s", MaxP99: "500ms",
			Mix: []mixEntry{{Kind: "submit", Weight: 1}, {Kind: "zone", Weight: 4}}},
		Steps: []stepReport{
			step(1, 50, 50, 1.2, 4.5, &within),
			step(2, 100, 99.8, 1.5, 9, &within),
			step(3, 150, 120, 40, 2400, &over),
			step(4, 200, 0, 0, 0, &over), // nothing answered: no latency points
		},
		Knee: &kneeReport{Step: 2, Rate: 100},
	}
}

// The chart parses as XML (special characters of the title escaped), is
// an SVG, and has a point per step and series, the axis labels and the knee.
func TestChartIsWellFormedSVG(t *testing.T) {
	var b bytes.Buffer
	if err := writeChart(&b, chartReport()); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	var root string
	elements := map[string]int{}
	var texts []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
		}
		switch v := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = v.Name.Space + " " + v.Name.Local
			}
			elements[v.Name.Local]++
		case xml.CharData:
			texts = append(texts, string(v))
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q, want svg in the SVG namespace", root)
	}
	// p50 and p99 for the 3 steps with answers, throughput for all 4.
	if elements["circle"] != 3+3+4 || elements["polyline"] != 3 {
		t.Errorf("%d points and %d lines, want 10 and 3", elements["circle"], elements["polyline"])
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"offered rate (requests/s)", "latency from due time (ms, log scale)", "achieved throughput (requests/s)",
		"knee 100/s", "p99 limit 500ms", "http://127.0.0.1:8080/?a=1&b=<2>"} {
		if !strings.Contains(all, want) {
			t.Errorf("chart lacks the text %q", want)
		}
	}
}

// A run with a single step (open mode) or without any answer still
// draws a chart.
func TestChartOfOneStep(t *testing.T) {
	rep := chartReport()
	rep.Config.Mode, rep.Config.MaxP99, rep.Knee = "open", "", nil
	for _, steps := range [][]stepReport{rep.Steps[:1], rep.Steps[3:]} {
		rep.Steps = steps
		var b bytes.Buffer
		if err := writeChart(&b, rep); err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
			t.Errorf("not well-formed: %v", err)
		}
		if strings.Contains(b.String(), "NaN") || strings.Contains(b.String(), "Inf") {
			t.Errorf("coordinates with NaN or Inf:\n%s", b.String())
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for top, want := range map[float64][]float64{105: {0, 20, 40, 60, 80, 100, 120}, 6.3: {0, 2, 4, 6, 8}, 1: {0, 0.2, 0.4, 0.6, 0.8, 1}, 2600: {0, 500, 1000, 1500, 2000, 2500, 3000}} {
		got := niceTicks(top, 6)
		if len(got) != len(want) {
			t.Errorf("niceTicks(%g) = %v, want %v", top, got, want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-9 {
				t.Errorf("niceTicks(%g) = %v, want %v", top, got, want)
				break
			}
		}
	}
}
