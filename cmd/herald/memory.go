package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// minTrim is the least free heap worth handing back to the OS.
const minTrim = 4 << 20

// tuneGC applies --gc-percent unless the operator set GOGC, which the Go
// runtime has then applied already.
func tuneGC(percent int, log *slog.Logger) {
	if _, set := os.LookupEnv("GOGC"); set {
		log.Info("GOGC set in the environment; --gc-percent ignored")
		return
	}
	debug.SetGCPercent(percent)
}

// trimMemory hands free heap back to the operating system once it has
// piled up. A node's memory is mostly idle connections; what a spike of
// handshakes (a reconnect storm after a deploy or a network blip) left
// behind would otherwise stay resident until the heap grows into it
// again. It trims when the free heap is over 4 MiB and over an eighth of
// the heap in use, so that a busy node, whose free heap is about to be
// reused, is left alone.
func trimMemory(ctx context.Context, every time.Duration, log *slog.Logger) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(samples)
		if samples[0].Value.Kind() != metrics.KindUint64 || samples[1].Value.Kind() != metrics.KindUint64 {
			return // this runtime does not offer them
		}
		free, inUse := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		if free > minTrim && free > inUse/8 {
			start := time.Now()
			debug.FreeOSMemory()
			log.Debug("returned free heap to the OS", "bytes", free, "took", time.Since(start))
		}
	}
}
