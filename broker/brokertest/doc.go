// Package brokertest is the conformance suite every [herald.Broker] passes:
// gapless sequences under concurrent publishers, history ranges, retention,
// dedupe by id, delivery order, the replay seam, ephemeral messages, and
// for brokers that keep them, presence and channel maps. A broker's own
// tests call [Run] with a [Harness] that makes brokers against a real
// server.
//
// # Concurrency properties
//
// Run drives the broker from many goroutines at once, as the hub does; the
// harness's functions are called from the test goroutine only.
package brokertest
