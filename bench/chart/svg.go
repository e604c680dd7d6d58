package main

import (
	"fmt"
	"html"
	"io"
	"math"
)

// The chart's geometry, in pixels: GitHub shows an image up to about 880
// wide without scaling it down.
const (
	width     = 880
	left      = 120 // operation labels
	right     = 110 // value labels past the longest bar
	barHeight = 16
	barGap    = 3
	opGap     = 12
	plotWidth = width - left - right
)

var palette = map[string]string{"scs": "#9aa4b3", "scsession": "#2f6fde", "scsession-goredis": "#12a37f"}

var spare = []string{"#e07b39", "#8e5bd8", "#c94f7c", "#4d9221"}

// render writes c as an SVG: a title, a legend, then one panel per backend
// with its own scale, each a group of horizontal bars per operation.
func render(w io.Writer, c chart) {
	colour := map[string]string{}
	for i, impl := range c.Impls {
		if p, ok := palette[impl]; ok {
			colour[impl] = p
		} else {
			colour[impl] = spare[i%len(spare)]
		}
	}

	var body []string
	add := func(format string, args ...any) { body = append(body, fmt.Sprintf(format, args...)) }
	y := 30
	add(`<text x="20" y="%d" font-size="18" font-weight="600">%s</text>`, y, esc(c.Title))
	y += 20
	add(`<text x="20" y="%d" font-size="12" fill="#5d6778">%s</text>`, y, esc(c.Note))
	y += 24
	x := 20
	for _, impl := range c.Impls {
		add(`<rect x="%d" y="%d" width="12" height="12" rx="2" fill="%s"/>`, x, y-10, colour[impl])
		name := implName(impl)
		add(`<text x="%d" y="%d" font-size="13">%s</text>`, x+18, y, esc(name))
		x += 18 + 8*len([]rune(name)) + 24
	}
	y += 16

	for _, b := range c.Backends {
		y += 20
		add(`<text x="20" y="%d" font-size="15" font-weight="600">%s</text>`, y, esc(b.Name))
		y += 10
		maxUs := 0.0
		for _, o := range b.Ops {
			for _, v := range o.Us {
				maxUs = max(maxUs, v)
			}
		}
		step, top := ticks(maxUs)
		scale := float64(plotWidth) / top
		plotTop := y
		// The grid first, so that the bars cover it.
		plotBottom := y + panelHeight(b)
		for t := step; t <= top+step/2; t += step {
			tx := float64(left) + t*scale
			add(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dde1e7" stroke-dasharray="3 3"/>`, tx, plotTop-4, tx, plotBottom)
		}
		for _, o := range b.Ops {
			n := len(o.Us)
			h := n*barHeight + (n-1)*barGap
			add(`<text x="%d" y="%d" font-size="13" text-anchor="end" dominant-baseline="middle">%s</text>`, left-10, y+h/2, esc(o.Name))
			for _, impl := range c.Impls {
				v, ok := o.Us[impl]
				if !ok {
					continue
				}
				bw := v * scale
				add(`<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s, %s: %s</title></rect>`,
					left, y, bw, barHeight, colour[impl], esc(implName(impl)), esc(o.Name), micros(v))
				add(`<text x="%.1f" y="%d" font-size="12" dominant-baseline="middle">%s</text>`, float64(left)+bw+5, y+barHeight/2+1, micros(v))
				y += barHeight + barGap
			}
			y += opGap - barGap
		}
		// The x axis: a line, ticks with their values, and what they measure.
		add(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#5d6778"/>`, left, plotTop-4, left, y)
		add(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#5d6778"/>`, left, y, left+plotWidth, y)
		for t := 0.0; t <= top+step/2; t += step {
			tx := float64(left) + t*scale
			add(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#5d6778"/>`, tx, y, tx, y+5)
			add(`<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#5d6778">%s</text>`, tx, y+18, number(t))
		}
		y += 36
		add(`<text x="%d" y="%d" font-size="12" text-anchor="middle" fill="#5d6778">µs per request above the router alone</text>`, left+plotWidth/2, y)
		y += 6
	}
	y += 16

	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif" fill="#1d2430">`+"\n", width, y, width, y)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, y)
	for _, line := range body {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "</svg>")
}

// panelHeight is the height of a backend's bars, with the gaps between
// operations.
func panelHeight(b backend) int {
	h := 0
	for _, o := range b.Ops {
		h += len(o.Us)*(barHeight+barGap) + opGap - barGap
	}
	return h
}

// ticks chooses a step of 1, 2 or 5 times a power of ten that gives about
// five ticks up to at least maxUs, and the last tick.
func ticks(maxUs float64) (step, top float64) {
	if maxUs <= 0 {
		return 1, 1
	}
	raw := maxUs / 5
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * pow; step >= raw {
			break
		}
	}
	return step, math.Ceil(maxUs/step) * step
}

func micros(us float64) string {
	if us < 10 {
		return fmt.Sprintf("%.1f µs", us)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func number(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", math.Round(v*100)/100)
}

func esc(s string) string { return html.EscapeString(s) }
