// Package metrics exports a hub's counters to Prometheus. It is the only
// package that imports the Prometheus client: the hub keeps plain atomic
// counters, and the collector here reads them when /metrics is scraped,
// so the hot path pays nothing for being observed.
//
// # Concurrency properties
//
// A Collector may be scraped concurrently; it only reads atomics.
package metrics
