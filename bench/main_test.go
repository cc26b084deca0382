package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/internal/testserver"
)

// The test binary doubles as a child server for Env's tests: with
// BENCH_TEST_CHILD set it answers /readyz on the address that is its last
// argument until SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_CHILD") != "" {
		os.Exit(child(os.Args[len(os.Args)-1]))
	}
	goleak.VerifyTestMain(m, testserver.LeakOptions()...)
}

func child(addr string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ready")
	})}
	go func() { _ = srv.ListenAndServe() }()
	<-ctx.Done()
	_ = srv.Close()
	return 0
}
