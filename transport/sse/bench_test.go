package sse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/broker/membroker"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/ssetest"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

// reader is a subscriber over either transport.
type reader interface {
	Next(time.Duration) (protocol.Frame, error)
}

// BenchmarkFanout delivers one channel's messages to 200 subscribers on
// one node, over WebSocket and over SSE, the clients in this process on
// loopback: what the fallback costs against the WebSocket. It reports
// deliveries per second (b.N messages × 200 subscribers over the time
// until the last subscriber has the last one).
//
//	go test -run '^$' -bench Fanout -benchtime 2000x ./transport/sse/
func BenchmarkFanout(b *testing.B) {
	const subscribers = 200
	transports := []struct {
		name string
		dial func(b *testing.B, srv *testserver.Server, token string) reader
	}{
		{"websocket", func(b *testing.B, srv *testserver.Server, token string) reader {
			c := wstest.Dial(b, srv.URL)
			c.SendRaw([]byte(`{"type":"auth","token":"` + token + `"}` + "\n"))
			return c
		}},
		{"sse", func(b *testing.B, srv *testserver.Server, token string) reader {
			c := ssetest.Dial(b, srv.HTTP)
			c.SendRaw([]byte(`{"type":"auth","token":"` + token + `"}`))
			return c
		}},
	}
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			srv := testserver.Start(b, testserver.Options{
				Hub:    hub.Config{MaxQueueBytes: 64 << 20},
				Broker: membroker.Config{Durability: membroker.DurabilityNone},
			})
			var wg sync.WaitGroup
			errs := make(chan error, subscribers)
			start := make(chan struct{})
			for i := range subscribers {
				r := tr.dial(b, srv, testserver.Token(b, fmt.Sprint("u", i), "bench.>"))
				sub := []byte(`{"type":"subscribe","channel":"bench.1"}`)
				switch c := r.(type) {
				case *wstest.Client:
					c.SendRaw(sub)
				case *ssetest.Client:
					c.SendRaw(sub)
				}
				for f, err := r.Next(10 * time.Second); f.Type != protocol.TypeSubscribed; f, err = r.Next(10 * time.Second) {
					if err != nil {
						b.Fatal(err)
					}
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for got := 0; got < b.N; {
						f, err := r.Next(30 * time.Second)
						if err != nil {
							errs <- err
							return
						}
						if f.Type == protocol.TypeMessage {
							got++
						}
					}
				}()
			}
			payload := json.RawMessage(`{"text":"a message of about a hundred bytes, as a chat app would send one, give or take"}`)
			b.ResetTimer()
			close(start)
			for i := range b.N {
				if _, _, err := srv.Hub.Publish(context.Background(), hub.BackendPublish{Channel: "bench.1", ID: fmt.Sprint(i), Payload: payload}); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			b.ReportMetric(float64(b.N)*subscribers/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
