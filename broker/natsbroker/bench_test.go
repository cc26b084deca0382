package natsbroker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/heraldrt/herald"
)

// BenchmarkPublish publishes to one channel from one node: one server
// round trip per publish, the channel's throughput ceiling.
func BenchmarkPublish(b *testing.B) {
	srv := startEmbedded(b)
	br, err := New(context.Background(), Config{URL: srv.url(), Prefix: "b" + randomHex(6), Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close(context.Background())
	payload := []byte(`{"text":"hello"}`)
	b.ResetTimer()
	for i := range b.N {
		if _, err := br.Publish(context.Background(), "bench.one", &herald.Publication{ID: fmt.Sprint(i), Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishChannels publishes to many channels of one namespace
// at once, which go in parallel.
func BenchmarkPublishChannels(b *testing.B) {
	srv := startEmbedded(b)
	br, err := New(context.Background(), Config{URL: srv.url(), Prefix: "b" + randomHex(6), Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close(context.Background())
	payload := []byte(`{"text":"hello"}`)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ch := fmt.Sprintf("bench.ch%d", n.Add(1))
		for i := 0; pb.Next(); i++ {
			if _, err := br.Publish(context.Background(), ch, &herald.Publication{ID: fmt.Sprint(i), Payload: payload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
