package heraldclient_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestHistory pages through a channel of 250 messages both ways with
// Next and Prev, and checks what a page says and what History refuses.
func TestHistory(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{MaxHistoryLimit: 200}})
	c, _ := connected(t, srv.URL, staticToken("alice", "chat.>"), nil)
	acks := make([]heraldclient.Ack, 251)
	for i := 1; i <= 250; i++ {
		acks[i] = publish(t, c, "chat.h", text(i), heraldclient.WithID(fmt.Sprint("h-", i)))
	}

	t.Run("the zero value reads the newest", func(t *testing.T) {
		p := readHistory(t, c, "chat.h", heraldclient.HistoryOptions{})
		checkHistoryPage(t, p, acks, 151, 250)
		if _, ok := p.Next(); ok {
			t.Fatal("a page that ends at the head has a next page")
		}
	})

	t.Run("back with Prev", func(t *testing.T) {
		seen := map[uint64]int{}
		opts := heraldclient.HistoryOptions{Limit: 100}
		want := [][2]uint64{{151, 250}, {51, 150}, {1, 50}}
		for i := 0; ; i++ {
			p := readHistory(t, c, "chat.h", opts)
			checkHistoryPage(t, p, acks, want[i][0], want[i][1])
			for _, m := range p.Messages {
				seen[m.Seq]++
			}
			next, ok := p.Prev()
			if !ok {
				break
			}
			if next.Limit != 100 || next.Before != p.Messages[0].Seq {
				t.Fatalf("Prev = %+v after a page from %d", next, p.Messages[0].Seq)
			}
			opts = next
		}
		checkSeenOnce(t, seen, 250)
	})

	t.Run("forward with Next", func(t *testing.T) {
		seen := map[uint64]int{}
		opts := heraldclient.HistoryOptions{Forward: true, Limit: 100}
		want := [][2]uint64{{1, 100}, {101, 200}, {201, 250}}
		for i := 0; ; i++ {
			p := readHistory(t, c, "chat.h", opts)
			checkHistoryPage(t, p, acks, want[i][0], want[i][1])
			for _, m := range p.Messages {
				seen[m.Seq]++
			}
			if _, ok := p.Prev(); ok != (i > 0) {
				t.Fatalf("page %d: Prev reports %v", i, ok)
			}
			next, ok := p.Next()
			if !ok {
				break
			}
			opts = next
		}
		checkSeenOnce(t, seen, 250)
	})

	t.Run("after a seq", func(t *testing.T) {
		checkHistoryPage(t, readHistory(t, c, "chat.h", heraldclient.HistoryOptions{After: 245}), acks, 246, 250)
	})

	t.Run("an empty page past the head", func(t *testing.T) {
		p := readHistory(t, c, "chat.h", heraldclient.HistoryOptions{After: 250})
		checkHistoryPage(t, p, acks, 0, 0)
		if _, ok := p.Next(); ok {
			t.Error("an empty page past the head has a next page")
		}
		if prev, ok := p.Prev(); !ok || prev.Before != 251 {
			t.Errorf("Prev = %+v, %v; want before 251", prev, ok)
		}
	})

	t.Run("an empty channel", func(t *testing.T) {
		p := readHistory(t, c, "chat.none", heraldclient.HistoryOptions{})
		if p.Channel != "chat.none" || p.Head != 0 || p.Oldest != 1 || len(p.Messages) != 0 {
			t.Fatalf("page %+v", p)
		}
		if _, ok := p.Next(); ok {
			t.Error("Next on an empty channel")
		}
		if _, ok := p.Prev(); ok {
			t.Error("Prev on an empty channel")
		}
	})

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name    string
			channel string
			opts    heraldclient.HistoryOptions
			code    protocol.Code
		}{
			{"not granted", "secret.1", heraldclient.HistoryOptions{}, protocol.CodeForbidden},
			{"over the server's limit", "chat.h", heraldclient.HistoryOptions{Limit: 201}, protocol.CodeTooLarge},
			{"after and before", "chat.h", heraldclient.HistoryOptions{After: 1, Before: 9}, protocol.CodeBadRequest},
			{"forward and before", "chat.h", heraldclient.HistoryOptions{Forward: true, Before: 9}, protocol.CodeBadRequest},
			{"negative limit", "chat.h", heraldclient.HistoryOptions{Limit: -1}, protocol.CodeBadRequest},
			{"invalid channel", "chat.*", heraldclient.HistoryOptions{}, protocol.CodeBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				defer cancel()
				p, err := c.History(ctx, tt.channel, tt.opts)
				if !isCode(err, tt.code) || p != nil {
					t.Fatalf("History = %+v, %v; want code %s", p, err, tt.code)
				}
			})
		}
		// The client goes on.
		readHistory(t, c, "chat.h", heraldclient.HistoryOptions{Limit: 1})
	})
}

// TestHistoryAcrossConnections: a History call made before Connect is
// sent once connected, one in flight when the connection drops is sent
// again on the next, one whose ctx ends returns, and Close fails the
// ones still waiting.
func TestHistoryAcrossConnections(t *testing.T) {
	t.Run("before connect", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		c, _ := newClient(t, srv.URL, staticToken("alice", "chat.>"), nil)
		got := goHistory(c, "chat.early", heraldclient.HistoryOptions{})
		expectPending(t, got)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if r := <-got; r.err != nil || r.page.Head != 0 || r.page.Oldest != 1 {
			t.Fatalf("History = %+v, %v", r.page, r.err)
		}
	})

	t.Run("in flight when the connection drops", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		p := newProxy(t, srv)
		c, states := connected(t, p.URL, staticToken("alice", "chat.>"), nil)
		acks := []heraldclient.Ack{{}, publish(t, c, "chat.drop", text(1)), publish(t, c, "chat.drop", text(2))}
		// The server's answer vanishes; the request itself gets there.
		p.addToxic(t, "blackhole", "timeout", "downstream", map[string]any{"timeout": 0})
		got := goHistory(c, "chat.drop", heraldclient.HistoryOptions{})
		expectPending(t, got)
		// Removing the toxic closes the connection; the reconnect sends
		// the request again.
		p.removeToxic(t, "blackhole")
		r := <-got
		if r.err != nil {
			t.Fatal(r.err)
		}
		checkHistoryPage(t, r.page, acks, 1, 2)
		if n := states.connects.Load(); n != 2 {
			t.Fatalf("%d connects, want 2 (the page came on the second)", n)
		}
	})

	t.Run("ctx ends first", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		c, _ := newClient(t, srv.URL, staticToken("alice", "chat.>"), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.History(ctx, "chat.x", heraldclient.HistoryOptions{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("History = %v, want the deadline", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		c, _ := newClient(t, srv.URL, staticToken("alice", "chat.>"), nil)
		got := goHistory(c, "chat.x", heraldclient.HistoryOptions{})
		expectPending(t, got)
		_ = c.Close()
		if r := <-got; !errors.Is(r.err, heraldclient.ErrClosed) {
			t.Fatalf("History after Close = %+v, %v; want ErrClosed", r.page, r.err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if _, err := c.History(ctx, "chat.x", heraldclient.HistoryOptions{}); !errors.Is(err, heraldclient.ErrClosed) {
			t.Fatalf("History on a closed client = %v", err)
		}
	})
}

type historyResult struct {
	page *heraldclient.HistoryPage
	err  error
}

// goHistory calls History on its own goroutine.
func goHistory(c *heraldclient.Client, channel string, opts heraldclient.HistoryOptions) <-chan historyResult {
	out := make(chan historyResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		p, err := c.History(ctx, channel, opts)
		out <- historyResult{p, err}
	}()
	return out
}

// expectPending fails if the History call returns within 100ms.
func expectPending(t *testing.T, got <-chan historyResult) {
	t.Helper()
	select {
	case r := <-got:
		t.Fatalf("History returned %+v, %v while it could not be answered", r.page, r.err)
	case <-time.After(100 * time.Millisecond):
	}
}

func readHistory(t *testing.T, c *heraldclient.Client, channel string, opts heraldclient.HistoryOptions) *heraldclient.HistoryPage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	p, err := c.History(ctx, channel, opts)
	if err != nil {
		t.Fatalf("history of %s %+v: %v", channel, opts, err)
	}
	return p
}

// checkHistoryPage checks that p holds exactly seqs first..last (none
// when last is 0), each as its ack and the publish helper say.
func checkHistoryPage(t *testing.T, p *heraldclient.HistoryPage, acks []heraldclient.Ack, first, last uint64) {
	t.Helper()
	head := uint64(len(acks) - 1)
	if p.Head != head || p.Oldest != 1 {
		t.Fatalf("page head %d oldest %d, want %d and 1", p.Head, p.Oldest, head)
	}
	n := 0
	if last > 0 {
		n = int(last - first + 1)
	}
	if len(p.Messages) != n {
		t.Fatalf("page of %d messages, want seqs %d..%d", len(p.Messages), first, last)
	}
	for i, m := range p.Messages {
		seq := first + uint64(i)
		a := acks[seq]
		if m.Seq != seq || m.Channel != p.Channel || m.ID != a.ID || !m.Timestamp.Equal(a.Timestamp) ||
			m.From != "alice" || m.Event != "message.new" || string(m.Payload) != fmt.Sprintf(`{"text":"m%d"}`, seq) {
			t.Fatalf("message %+v (payload %s), want seq %d as acked: %+v", m, m.Payload, seq, a)
		}
	}
}

func checkSeenOnce(t *testing.T, seen map[uint64]int, n uint64) {
	t.Helper()
	for seq := uint64(1); seq <= n; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("seq %d seen %d times", seq, seen[seq])
		}
	}
	if uint64(len(seen)) != n {
		t.Fatalf("%d seqs seen, want %d", len(seen), n)
	}
}
