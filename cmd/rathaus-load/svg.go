package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// writeChart draws the run as SVG: offered rate on the x axis; p50 and p99
// latency on a logarithmic left axis; achieved throughput on a linear right
// axis, beside the line where it equals the offered rate; the p99 limit and
// the knee of a step run.
func writeChart(w io.Writer, rep runReport) error {
	const (
		width, height            = 880, 540
		left, right, top, bottom = 90.0, 790.0, 80.0, 470.0
	)
	var (
		maxRate, maxThroughput float64
		minLat, maxLat         = math.Inf(1), 0.0
	)
	for _, s := range rep.Steps {
		maxRate = max(maxRate, s.Rate)
		maxThroughput = max(maxThroughput, s.Total.AchievedRate, s.Rate)
		for _, v := range []float64{s.Total.Latency.P50, s.Total.Latency.P99} {
			if v > 0 {
				minLat, maxLat = min(minLat, v), max(maxLat, v)
			}
		}
	}
	var limitMS float64
	if rep.Config.MaxP99 != "" {
		if d, err := parseDurationMS(rep.Config.MaxP99); err == nil {
			limitMS = d
			minLat, maxLat = min(minLat, d), max(maxLat, d)
		}
	}
	if maxLat == 0 { // nothing answered
		minLat, maxLat = 1, 10
	}
	xTicks := niceTicks(max(maxRate, 1)*1.05, 6)
	xMax := xTicks[len(xTicks)-1]
	tTicks := niceTicks(max(maxThroughput, 1)*1.05, 6)
	tMax := tTicks[len(tTicks)-1]
	loExp, hiExp := math.Floor(math.Log10(minLat)), math.Ceil(math.Log10(maxLat))
	if hiExp <= loExp {
		hiExp = loExp + 1
	}
	x := func(v float64) float64 { return left + (right-left)*v/xMax }
	yLat := func(v float64) float64 {
		return bottom - (bottom-top)*(math.Log10(v)-loExp)/(hiExp-loExp)
	}
	yT := func(v float64) float64 { return bottom - (bottom-top)*v/tMax }

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	title := fmt.Sprintf("rathaus-load %s: %s, mix %s", rep.Config.Mode, rep.Config.Base, mixText(rep.Config.Mix))
	p(`<text x="%d" y="24" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n", width/2, esc(title))
	sub := fmt.Sprintf("%s per step, started %s", rep.Config.Duration, rep.Started.Format("2006-01-02 15:04 MST"))
	if rep.Config.Mode == "open" {
		sub = fmt.Sprintf("%s at %g requests/s, started %s", rep.Config.Duration, rep.Config.Rate, rep.Started.Format("2006-01-02 15:04 MST"))
	}
	if rep.Knee != nil {
		sub += fmt.Sprintf(" — knee at %g requests/s", rep.Knee.Rate)
	}
	p(`<text x="%d" y="44" text-anchor="middle" fill="#444">%s</text>`+"\n", width/2, esc(sub))

	// Grid and axes.
	p(`<g stroke="#ddd" stroke-width="1">` + "\n")
	for _, v := range xTicks {
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", x(v), top, x(v), bottom)
	}
	for e := loExp; e <= hiExp; e++ {
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", left, yLat(math.Pow(10, e)), right, yLat(math.Pow(10, e)))
	}
	p("</g>\n")
	p(`<g stroke="#000" stroke-width="1.2"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/></g>`+"\n",
		left, bottom, right, bottom, left, top, left, bottom, right, top, right, bottom)
	for _, v := range xTicks {
		p(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(v), bottom+18, num(v))
	}
	for e := loExp; e <= hiExp; e++ {
		p(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#1f4e9c">%s</text>`+"\n", left-8, yLat(math.Pow(10, e))+4, num(math.Pow(10, e)))
	}
	for _, v := range tTicks {
		p(`<text x="%.1f" y="%.1f" fill="#2a7d2a">%s</text>`+"\n", right+8, yT(v)+4, num(v))
	}
	p(`<text x="%.1f" y="%.1f" text-anchor="middle">offered rate (requests/s)</text>`+"\n", (left+right)/2, bottom+44)
	p(`<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle" fill="#1f4e9c">latency from due time (ms, log scale)</text>`+"\n", left-58, (top+bottom)/2)
	p(`<text transform="translate(%.1f %.1f) rotate(90)" text-anchor="middle" fill="#2a7d2a">achieved throughput (requests/s)</text>`+"\n", right+62, (top+bottom)/2)

	// The throughput the server would have at no loss: achieved = offered.
	ideal := min(xMax, tMax)
	p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#2a7d2a" stroke-opacity="0.4" stroke-dasharray="4 4"/>`+"\n", x(0), yT(0), x(ideal), yT(ideal))
	p(`<text x="%.1f" y="%.1f" text-anchor="end" font-size="11" fill="#2a7d2a">achieved = offered</text>`+"\n", x(ideal)-4, yT(ideal)+14)
	if limitMS > 0 {
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c0392b" stroke-dasharray="2 4"/>`+"\n", left, yLat(limitMS), right, yLat(limitMS))
		p(`<text x="%.1f" y="%.1f" fill="#c0392b" font-size="11">p99 limit %s</text>`+"\n", left+6, yLat(limitMS)-5, esc(rep.Config.MaxP99))
	}
	if k := rep.Knee; k != nil {
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#555" stroke-dasharray="6 3"/>`+"\n", x(k.Rate), top, x(k.Rate), bottom)
		p(`<text x="%.1f" y="%.1f" font-size="11" fill="#333">knee %g/s</text>`+"\n", x(k.Rate)+4, top+14, k.Rate)
	}

	series := []struct {
		name, color string
		value       func(s stepReport) float64
		y           func(float64) float64
	}{
		{"p50 latency", "#1f77b4", func(s stepReport) float64 { return s.Total.Latency.P50 }, yLat},
		{"p99 latency", "#d62728", func(s stepReport) float64 { return s.Total.Latency.P99 }, yLat},
		{"achieved throughput", "#2ca02c", func(s stepReport) float64 { return s.Total.AchievedRate }, yT},
	}
	for i, se := range series {
		var pts []string
		var marks strings.Builder
		for _, s := range rep.Steps {
			v := se.value(s)
			if se.name != "achieved throughput" && v <= 0 {
				continue
			}
			px, py := x(s.Rate), se.y(v)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
			fmt.Fprintf(&marks, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s at %g/s: %s</title></circle>`+"\n",
				px, py, se.color, se.name, s.Rate, num(v))
		}
		if len(pts) > 1 {
			p(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", se.color, strings.Join(pts, " "))
		}
		b.WriteString(marks.String())
		// Legend.
		lx := left + float64(i)*200
		p(`<line x1="%.1f" y1="62" x2="%.1f" y2="62" stroke="%s" stroke-width="3"/><text x="%.1f" y="66">%s</text>`+"\n", lx, lx+24, se.color, lx+30, se.name)
	}
	p("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// parseDurationMS reads a time.Duration string as milliseconds.
func parseDurationMS(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	return ms(d), err
}

// niceTicks returns ticks from 0 in steps of 1, 2 or 5 × 10^k, the last
// at or above top.
func niceTicks(top float64, n int) []float64 {
	raw := top / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for i := 0; ; i++ {
		v := float64(i) * step
		ticks = append(ticks, v)
		if v >= top {
			return ticks
		}
	}
}

// num prints an axis value without needless digits.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
	}
	return fmt.Sprintf("%.3g", v)
}

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
