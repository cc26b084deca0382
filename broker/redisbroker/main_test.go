package redisbroker

import (
	"github.com/heraldrt/herald/internal/testbrokers"

	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/broker/brokertest"
)

// srv is the package's own redis-server, started by TestMain. The
// tests never touch a Redis they did not start.
var srv *testbrokers.RedisServer

type testMain struct{ m *testing.M }

func (t testMain) Run() int {
	dir, err := os.MkdirTemp("", "redisbroker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	srv, err = testbrokers.NewRedis(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisbroker tests:", err)
		return 1
	}
	defer srv.Shutdown()
	return t.m.Run()
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(testMain{m},
		// The rueidis cluster client, after a topology change (the
		// connections a Cut kills), refreshes its slot map after a short
		// delay and closes replaced connections 5s later, in goroutines
		// that outlive Client.Close by those bounded sleeps.
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
	)
}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

var testLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// config returns a broker config over url for the suite's options.
func config(url, prefix string, opts brokertest.Options) Config {
	return Config{
		URL:            url,
		Prefix:         prefix,
		RetentionCount: opts.RetentionCount,
		RetentionAge:   opts.RetentionAge,
		RetentionFor:   opts.RetentionFor,
		DedupeWindow:   opts.DedupeWindow,
		PresenceTTL:    opts.PresenceTTL,
		Logger:         testLogger,
	}
}

func newTestBroker(t testing.TB, cfg Config) *Broker {
	t.Helper()
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}
