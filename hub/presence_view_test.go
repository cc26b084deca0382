package hub

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// TestPresenceViewDiffs drives a view with deltas and checks what each
// flush sends: changes of users only, netted over the interval, counts
// only past the maximum, and every member again below it.
func TestPresenceViewDiffs(t *testing.T) {
	join := func(conn, user string) ephemeral { return ephemeral{Kind: ephJoin, Conn: conn, User: user} }
	leave := func(conn string) ephemeral { return ephemeral{Kind: ephLeave, Conn: conn} }
	tests := []struct {
		name   string
		seed   []herald.PresenceEntry
		deltas []ephemeral
		max    int
		want   string // the flush's frame, summarized; "" for none
	}{
		{"nothing happened", nil, nil, 10, ""},
		{"a join", nil, []ephemeral{join("c1", "alice")}, 10, "diff count=1 joins=[alice] leaves=[]"},
		{"a second device", []herald.PresenceEntry{{ConnectionID: "c1", UserID: "alice"}}, []ephemeral{join("c2", "alice")}, 10, ""},
		{"one of two devices leaves", []herald.PresenceEntry{{ConnectionID: "c1", UserID: "alice"}, {ConnectionID: "c2", UserID: "alice"}}, []ephemeral{leave("c1")}, 10, ""},
		{"the last device leaves", []herald.PresenceEntry{{ConnectionID: "c1", UserID: "alice"}}, []ephemeral{leave("c1")}, 10, "diff count=0 joins=[] leaves=[alice]"},
		{"join and leave within the interval", nil, []ephemeral{join("c1", "bob"), leave("c1")}, 10, ""},
		{"leave and come back within the interval", []herald.PresenceEntry{{ConnectionID: "c1", UserID: "bob"}}, []ephemeral{leave("c1"), join("c9", "bob")}, 10, ""},
		{"a repeated join", nil, []ephemeral{join("c1", "bob"), join("c1", "bob")}, 10, "diff count=1 joins=[bob] leaves=[]"},
		{"a leave of an unknown connection", nil, []ephemeral{leave("zz")}, 10, ""},
		{"a big channel grows", seedUsers(5), []ephemeral{join("x", "new")}, 3, "diff count=6 joins=[] leaves=[]"},
		{"a big channel whose count did not change", seedUsers(5), []ephemeral{join("x", "new"), leave("c0")}, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newPresenceView()
			v.seed(tt.seed)
			v.diff("c", tt.max) // what watchers already know
			for i := range tt.deltas {
				v.apply(&tt.deltas[i])
			}
			if got := summarize(t, v.diff("c", tt.max)); got != tt.want {
				t.Fatalf("flush sent %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("a big channel shrinks below the maximum", func(t *testing.T) {
		v := newPresenceView()
		v.seed(seedUsers(4))
		v.diff("c", 3)
		v.apply(&ephemeral{Kind: ephLeave, Conn: "c0"})
		if got := summarize(t, v.diff("c", 3)); got != "state count=3 members=[u1 u2 u3]" {
			t.Fatalf("flush sent %q, want the whole state", got)
		}
	})
}

// TestPresenceViewSync checks the resync against races with deltas.
func TestPresenceViewSync(t *testing.T) {
	v := newPresenceView()
	v.seed([]herald.PresenceEntry{{ConnectionID: "a", UserID: "alice"}, {ConnectionID: "b", UserID: "bob"}})
	v.diff("c", 10)
	known := v.knownConns()
	start := time.Now()
	// While the read runs: carol joins, alice leaves.
	v.apply(&ephemeral{Kind: ephJoin, Conn: "c", User: "carol"})
	v.apply(&ephemeral{Kind: ephLeave, Conn: "a"})
	// The read saw alice still there and carol not yet; bob is gone (his
	// node died).
	v.sync([]herald.PresenceEntry{{ConnectionID: "a", UserID: "alice"}}, start, known)
	if got := summarize(t, v.diff("c", 10)); got != "diff count=1 joins=[carol] leaves=[alice bob]" {
		t.Fatalf("after the resync: %q", got)
	}
}

func seedUsers(n int) []herald.PresenceEntry {
	out := make([]herald.PresenceEntry, n)
	for i := range out {
		out[i] = herald.PresenceEntry{ConnectionID: fmt.Sprint("c", i), UserID: fmt.Sprint("u", i)}
	}
	return out
}

func summarize(t *testing.T, js []byte) string {
	t.Helper()
	if js == nil {
		return ""
	}
	var f protocol.Frame
	if err := json.Unmarshal(js, &f); err != nil {
		t.Fatal(err)
	}
	ids := func(ms []protocol.PresenceMember) []string {
		out := []string{}
		for _, m := range ms {
			out = append(out, m.UserID)
		}
		sort.Strings(out)
		return out
	}
	if f.Type == protocol.TypePresenceState {
		return fmt.Sprintf("state count=%d members=%v", f.Count, ids(f.Members))
	}
	leaves := append([]string{}, f.Leaves...)
	sort.Strings(leaves)
	return strings.TrimSpace(fmt.Sprintf("diff count=%d joins=%v leaves=%v", f.Count, ids(f.Joins), leaves))
}
