package bench_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/bench/bare"
	"github.com/heraldrt/herald/bench/loadgen"
	"github.com/heraldrt/herald/internal/testserver"
)

// The fan-out benchmarks publish to one channel with S subscribers over
// real loopback WebSockets, keeping a window of publishes in flight, and
// count an operation done when every subscriber has its message. Server
// and clients share the process and its cores, so absolute figures say
// little; compare BenchmarkFanout with BenchmarkBareBroadcast from the
// same run (benchstat or the deliveries/s metric):
//
//	go test -run '^$' -bench 'Fanout|BareBroadcast' -benchtime 20000x ./bench/
var fanoutSizes = []int{100, 1000, 5000}

// benchWindow is how many publishes may be in flight at once.
const benchWindow = 32

func BenchmarkFanout(b *testing.B) {
	for _, subs := range fanoutSizes {
		b.Run("subs="+strconv.Itoa(subs), func(b *testing.B) {
			srv := testserver.Start(b, testserver.Options{})
			benchFanout(b, srv.URL, subs)
		})
	}
}

func BenchmarkBareBroadcast(b *testing.B) {
	for _, subs := range fanoutSizes {
		b.Run("subs="+strconv.Itoa(subs), func(b *testing.B) {
			srv, err := bare.Start("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = srv.Close(context.Background()) })
			benchFanout(b, srv.URL(), subs)
		})
	}
}

// completion counts, per publish, the subscribers still waiting for it.
type completion struct {
	loadgen.NopHandler
	base      atomic.Uint64 // the channel's head before the first publish
	remaining []atomic.Int32
	done      atomic.Int64
	wake      chan struct{}
}

func (c *completion) Message(_ *loadgen.Client, m *loadgen.Message) {
	i := m.Seq - c.base.Load() - 1
	if i >= uint64(len(c.remaining)) {
		return
	}
	if c.remaining[i].Add(-1) == 0 {
		c.done.Add(1)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func benchFanout(b *testing.B, url string, subs int) {
	e, err := loadgen.NewEngine(loadgen.Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	channel := fmt.Sprintf("bench.%d", time.Now().UnixNano())
	tok, err := auth.Mint(testserver.Secret, "s", []string{channel}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	comp := &completion{wake: make(chan struct{}, 1)}
	clients, err := e.Connect(ctx, subs, func(int) (loadgen.Spec, error) {
		return loadgen.Spec{Token: tok, Channels: []string{channel}}, nil
	}, comp, nil)
	if err != nil {
		b.Fatal(err)
	}
	pubs, err := e.Connect(ctx, 1, func(int) (loadgen.Spec, error) { return loadgen.Spec{Token: tok}, nil }, loadgen.NopHandler{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	pub := pubs[0]
	comp.base.Store(clients[0].Subs()[0].Last)
	payload := loadgen.AppendStamp(nil, time.Now().UnixNano(), 0, 100)

	// b.N is known before the loop: one counter per publish.
	comp.remaining = make([]atomic.Int32, b.N)
	for i := range comp.remaining {
		comp.remaining[i].Store(int32(subs))
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for int64(i)-comp.done.Load() >= benchWindow {
			select {
			case <-comp.wake:
			case <-time.After(10 * time.Second):
				b.Fatalf("stalled: %d of %d publishes delivered to all", comp.done.Load(), i)
			}
		}
		if err := pub.Publish("p"+strconv.Itoa(i), channel, "bench", payload); err != nil {
			b.Fatal(err)
		}
	}
	for comp.done.Load() < int64(b.N) {
		select {
		case <-comp.wake:
		case <-time.After(10 * time.Second):
			b.Fatalf("stalled: %d of %d publishes delivered to all", comp.done.Load(), b.N)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(subs)/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(el.Nanoseconds())/(float64(b.N)*float64(subs)), "ns/delivery")
	for _, c := range clients {
		if st := c.Subs()[0]; st.Lost != 0 || st.Duplicated != 0 {
			b.Fatalf("subscriber %d: lost %d, duplicated %d", c.Index, st.Lost, st.Duplicated)
		}
	}
}
