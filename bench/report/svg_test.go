package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// parseSVG checks that b is well-formed XML with an svg root, and returns
// its element names with counts and all text content.
func parseSVG(t *testing.T, b []byte) (map[string]int, string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	elems := map[string]int{}
	var text strings.Builder
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 && tok.Name.Local != "svg" {
				t.Fatalf("root element %q, want svg", tok.Name.Local)
			}
			depth++
			elems[tok.Name.Local]++
			for _, a := range tok.Attr {
				if strings.Contains(a.Value, "NaN") || strings.Contains(a.Value, "Inf") {
					t.Fatalf("attribute %s=%q", a.Name.Local, a.Value)
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			text.Write(tok)
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced elements")
	}
	return elems, text.String()
}

func TestChartWritesWellFormedSVG(t *testing.T) {
	c := Chart{
		Title: "latency <by step> & rate", XLabel: "rate", YLabel: "ms",
		XLog: true, YLog: true,
		Series: []Series{
			{Name: "p50", Points: []Point{{10, 1.2}, {15, 1.5}, {22.5, 2}, {33.75, 40}}},
			{Name: "p99", Points: []Point{{10, 3}, {15, 4}, {22.5, 9}, {33.75, 900}}},
			// Points a log axis cannot show are left out, not drawn at NaN.
			{Name: "bad", Points: []Point{{0, 1}, {10, 0}, {math.NaN(), 2}, {math.Inf(1), 2}, {20, 5}}},
		},
	}
	var b bytes.Buffer
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	elems, text := parseSVG(t, b.Bytes())
	if elems["polyline"] != 2 {
		t.Errorf("%d polylines, want 2 (the third series has one usable point)", elems["polyline"])
	}
	if elems["circle"] != 9 {
		t.Errorf("%d markers, want 9", elems["circle"])
	}
	for _, want := range []string{"latency <by step> & rate", "p50", "p99", "bad", "rate", "ms", "10", "100", "1k"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q missing from the chart", want)
		}
	}
}

func TestChartLinearAxes(t *testing.T) {
	c := Chart{Series: []Series{{Name: "rss", Points: []Point{{0, 100}, {1, 101}, {2, 103}}}}}
	var b bytes.Buffer
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	elems, _ := parseSVG(t, b.Bytes())
	if elems["polyline"] != 1 || elems["circle"] != 3 {
		t.Fatalf("elements %v", elems)
	}
}

func TestChartWithoutData(t *testing.T) {
	for _, c := range []Chart{
		{Title: "empty"},
		{Title: "flat", Series: []Series{{Name: "one", Points: []Point{{1, 1}}}}},
		{Title: "nothing usable", YLog: true, Series: []Series{{Name: "zeros", Points: []Point{{1, 0}, {2, 0}}}}},
	} {
		var b bytes.Buffer
		if err := c.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		parseSVG(t, b.Bytes())
	}
}

func TestNiceStepAndLabel(t *testing.T) {
	for raw, want := range map[float64]float64{0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 140: 200} {
		if got := niceStep(raw); math.Abs(got-want) > 1e-9 {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
	for v, want := range map[float64]string{0.5: "0.5", 20: "20", 1500: "1.5k", 2e6: "2M"} {
		if got := label(v); got != want {
			t.Errorf("label(%v) = %q, want %q", v, got, want)
		}
	}
}
