// Package report holds what `herald bench` measures and how it shows it:
// a lock-free latency histogram with percentiles, a plain-text summary
// table, and a small hand-written SVG line chart. It has no dependencies
// outside the standard library.
//
// # Concurrency properties
//
// Histogram.Record may be called from any number of goroutines at once and
// concurrently with Summary, which then sees some consistent-enough mix of
// recent values (each counter is read atomically, not the set as a whole).
// Table and Chart are plain values: build them on one goroutine.
package report
