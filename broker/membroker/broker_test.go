package membroker

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/brokertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func config(dir string, opts brokertest.Options) Config {
	return Config{
		Dir:            dir,
		RetentionCount: opts.RetentionCount,
		RetentionAge:   opts.RetentionAge,
		DedupeWindow:   opts.DedupeWindow,
		Clock:          opts.Clock,
		RetentionFor:   opts.RetentionFor,
	}
}

func TestConformance(t *testing.T) {
	for _, d := range []Durability{DurabilitySync, DurabilityNone} {
		t.Run(string(d), func(t *testing.T) {
			brokertest.Run(t, brokertest.Harness{
				Clock:       true,
				DeliversAll: true,
				New: func(t *testing.T, opts brokertest.Options) herald.Broker {
					cfg := config(t.TempDir(), opts)
					cfg.Durability = d
					b, err := New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					return b
				},
				Reopen: func(t *testing.T, old herald.Broker, opts brokertest.Options) herald.Broker {
					dir := old.(*Broker).cfg.Dir
					if err := old.Close(context.Background()); err != nil {
						t.Fatal(err)
					}
					cfg := config(dir, opts)
					cfg.Durability = d
					b, err := New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					return b
				},
			})
		})
	}
}

func TestInMemory(t *testing.T) {
	brokertest.Run(t, brokertest.Harness{
		Clock:       true,
		DeliversAll: true,
		New: func(t *testing.T, opts brokertest.Options) herald.Broker {
			b, err := New(config("", opts))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	})
}
