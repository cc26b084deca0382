// Package herald holds the vocabulary shared by every part of the Herald
// real-time messaging server: the [Publication] that flows through a channel,
// the [Broker] that stores and fans publications out, the [EventHandler] a
// broker delivers to, and the [Identity] a connection authenticates as.
//
// The package imports only the standard library. Implementations live in
// packages named for what they wrap: hub (the core), transport/ws,
// broker/membroker and so on; only cmd/herald names concrete brokers.
//
// # Concurrency properties
//
// Types here are plain values; they carry no locks. A [Publication] handed
// to a broker or an event handler must not be modified afterwards: brokers
// and the hub share it between goroutines without copying. Each interface
// method documents who may call it concurrently.
package herald
