package redisbroker

import (
	"context"
	"fmt"
	"testing"

	"github.com/heraldrt/herald"
)

func BenchmarkPublish(b *testing.B) {
	br := newTestBroker(b, Config{URL: srv.URL(), Prefix: randomPrefix(), Logger: testLogger})
	defer br.Close(context.Background())
	payload := []byte(`{"text":"hello, world"}`)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			_, err := br.Publish(context.Background(), "bench.chan", &herald.Publication{
				ID: fmt.Sprintf("%p-%d", pb, i), Event: "message.new", Payload: payload,
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPublishBatch(b *testing.B) {
	br := newTestBroker(b, Config{URL: srv.URL(), Prefix: randomPrefix(), Logger: testLogger})
	defer br.Close(context.Background())
	payload := []byte(`{"text":"hello, world"}`)
	const size = 64
	reqs := make([]herald.PublishRequest, size)
	n := 0
	for b.Loop() {
		for i := range reqs {
			n++
			reqs[i] = herald.PublishRequest{
				Channel:     fmt.Sprintf("bench.batch.%d", i%4),
				Publication: &herald.Publication{ID: fmt.Sprint(n), Event: "message.new", Payload: payload},
			}
		}
		for _, r := range br.PublishBatch(context.Background(), reqs) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "publishes/s")
}
