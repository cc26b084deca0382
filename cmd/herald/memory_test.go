package main

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func heapFree() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestTrimMemory: free heap left by a burst of allocations is handed back
// to the OS by the trimmer.
func TestTrimMemory(t *testing.T) {
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	for i := range keep {
		keep[i][0] = 1
	}
	keep = nil
	runtime.GC()
	before := heapFree()
	if before < minTrim {
		t.Skipf("the runtime already released the burst (free heap %d)", before)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		trimMemory(ctx, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for heapFree() > before/2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if after := heapFree(); after > before/2 {
		t.Fatalf("free heap %d before, %d after trimming", before, after)
	}
}
