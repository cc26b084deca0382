package report

import (
	"strings"
	"testing"
)

func TestTableAligns(t *testing.T) {
	tb := Table{Title: "title", Header: []string{"name", "value"}}
	tb.AddRow("a", 1)
	tb.AddRow("longer name", 2.5)
	var sb strings.Builder
	if err := tb.Write(&sb); err != nil {
		t.Fatal(err)
	}
	want := `title
name         value
----         -----
a            1
longer name  2.5
`
	if sb.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", sb.String(), want)
	}
}
