package report

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Chart is a line chart of one or more series, written as a small
// self-contained SVG document.
type Chart struct {
	Title  string
	XLabel string
	YLabel string
	// XLog and YLog draw the axis on a log10 scale; points with a value
	// ≤ 0 on a log axis are left out.
	XLog, YLog bool
	Series     []Series
	// Width and Height are in pixels. Zero means 720 × 440.
	Width, Height int
}

// Series is one named line.
type Series struct {
	Name   string
	Points []Point
}

// Point is one (x, y) value.
type Point struct{ X, Y float64 }

// palette holds colours that stay apart for the colour-blind (Okabe-Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

const (
	marginLeft   = 72
	marginRight  = 24
	marginTop    = 40
	marginBottom = 56
)

// axis maps values to pixels along one dimension.
type axis struct {
	log      bool
	lo, hi   float64 // in axis space (log10 of the value on a log axis)
	from, to float64 // pixels
}

func (a axis) space(v float64) float64 {
	if a.log {
		return math.Log10(v)
	}
	return v
}

func (a axis) px(v float64) float64 {
	t := (a.space(v) - a.lo) / (a.hi - a.lo)
	return a.from + t*(a.to-a.from)
}

// WriteSVG writes the chart to w.
func (c *Chart) WriteSVG(w io.Writer) error {
	width, height := c.Width, c.Height
	if width <= 0 {
		width = 720
	}
	if height <= 0 {
		height = 440
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	text(bw, float64(width)/2, 22, "middle", "font-size=\"15\" font-weight=\"bold\"", c.Title)

	xs, ys := c.ranges()
	plotL, plotR := float64(marginLeft), float64(width-marginRight)
	plotT, plotB := float64(marginTop), float64(height-marginBottom)
	if len(xs) == 0 {
		text(bw, float64(width)/2, float64(height)/2, "middle", "", "no data")
		fmt.Fprintln(bw, "</svg>")
		return bw.Flush()
	}
	xa := makeAxis(c.XLog, xs, plotL, plotR)
	ya := makeAxis(c.YLog, ys, plotB, plotT)

	// Grid, ticks and labels.
	for _, t := range ticks(xa) {
		x := xa.px(t)
		fmt.Fprintf(bw, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e4e4e4"/>`+"\n", f(x), f(plotT), f(x), f(plotB))
		text(bw, x, plotB+16, "middle", "", xa.label(t))
	}
	for _, t := range ticks(ya) {
		y := ya.px(t)
		fmt.Fprintf(bw, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e4e4e4"/>`+"\n", f(plotL), f(y), f(plotR), f(y))
		text(bw, plotL-6, y+4, "end", "", ya.label(t))
	}
	fmt.Fprintf(bw, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#888"/>`+"\n", f(plotL), f(plotT), f(plotR-plotL), f(plotB-plotT))
	text(bw, (plotL+plotR)/2, float64(height)-14, "middle", "", c.XLabel)
	fmt.Fprintf(bw, `<text x="16" y="%s" text-anchor="middle" transform="rotate(-90 16 %s)">`, f((plotT+plotB)/2), f((plotT+plotB)/2))
	_ = xml.EscapeText(bw, []byte(c.YLabel))
	fmt.Fprintln(bw, "</text>")

	// Lines, markers and the legend.
	for i, s := range c.Series {
		colour := palette[i%len(palette)]
		var pts [][2]float64
		for _, p := range s.Points {
			if c.usable(p) {
				pts = append(pts, [2]float64{xa.px(p.X), ya.px(p.Y)})
			}
		}
		if len(pts) > 1 {
			coords := make([]string, len(pts))
			for j, p := range pts {
				coords[j] = f(p[0]) + "," + f(p[1])
			}
			fmt.Fprintf(bw, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", colour, strings.Join(coords, " "))
		}
		for _, p := range pts {
			fmt.Fprintf(bw, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", f(p[0]), f(p[1]), colour)
		}
		ly := plotT + 14 + float64(i)*16
		fmt.Fprintf(bw, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"/>`+"\n", f(plotL+10), f(ly-4), f(plotL+28), f(ly-4), colour)
		text(bw, plotL+34, ly, "start", "", s.Name)
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

// usable reports whether p can be drawn on the chart's axes.
func (c *Chart) usable(p Point) bool {
	if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
		return false
	}
	return (!c.XLog || p.X > 0) && (!c.YLog || p.Y > 0)
}

// ranges returns the x and y values of every drawable point.
func (c *Chart) ranges() (xs, ys []float64) {
	for _, s := range c.Series {
		for _, p := range s.Points {
			if c.usable(p) {
				xs = append(xs, p.X)
				ys = append(ys, p.Y)
			}
		}
	}
	return xs, ys
}

// makeAxis fits an axis around vs, widened to whole decades on a log axis
// and to a little headroom on a linear one.
func makeAxis(log bool, vs []float64, from, to float64) axis {
	a := axis{log: log, from: from, to: to, lo: math.Inf(1), hi: math.Inf(-1)}
	for _, v := range vs {
		s := a.space(v)
		a.lo, a.hi = math.Min(a.lo, s), math.Max(a.hi, s)
	}
	if log {
		a.lo, a.hi = math.Floor(a.lo), math.Ceil(a.hi)
		if a.hi == a.lo {
			a.hi++
		}
		return a
	}
	if a.lo > 0 && a.lo < a.hi/2 {
		a.lo = 0 // anchor at zero unless the data sits far from it
	}
	if a.hi == a.lo {
		a.lo, a.hi = a.lo-1, a.hi+1
	}
	step := niceStep((a.hi - a.lo) / 5)
	a.lo = math.Floor(a.lo/step) * step
	a.hi = math.Ceil(a.hi/step) * step
	return a
}

// ticks returns the values to label on a.
func ticks(a axis) []float64 {
	var out []float64
	if a.log {
		decades := int(a.hi - a.lo)
		for d := int(a.lo); d <= int(a.hi); d++ {
			base := math.Pow(10, float64(d))
			out = append(out, base)
			if decades <= 2 && d < int(a.hi) {
				out = append(out, 2*base, 5*base)
			}
		}
		return out
	}
	step := niceStep((a.hi - a.lo) / 5)
	for v := a.lo; v <= a.hi+step/2; v += step {
		out = append(out, v)
	}
	return out
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// label formats a tick of a: on a linear axis with as many decimals as
// its step needs, on a log axis compactly.
func (a axis) label(v float64) string {
	if a.log {
		return label(v)
	}
	step := niceStep((a.hi - a.lo) / 5)
	decimals := max(0, int(-math.Floor(math.Log10(step))))
	if math.Abs(v) >= 1e3 && decimals == 0 {
		return label(v)
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// label formats a value compactly: 0.5, 20, 1.5k, 2M.
func label(v float64) string {
	av := math.Abs(v)
	switch {
	case av >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case av >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func text(w *bufio.Writer, x, y float64, anchor, attrs, s string) {
	if s == "" {
		return
	}
	fmt.Fprintf(w, `<text x="%s" y="%s" text-anchor="%s" %s>`, f(x), f(y), anchor, attrs)
	_ = xml.EscapeText(w, []byte(s))
	fmt.Fprintln(w, "</text>")
}

func f(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
