package webhook

import "sync/atomic"

// Stats are the webhook's counters, kept with atomics; the metrics
// package reads them when scraped.
type Stats struct {
	// Decisions (connect, subscribe, publish), one count per call.
	DecisionsAllowed atomic.Uint64 // allowed, rewrites included
	Rewrites         atomic.Uint64 // publishes allowed with a new payload
	DecisionsDenied  atomic.Uint64
	DecisionsFailed  atomic.Uint64 // no usable answer: the client got internal

	// Notifications (disconnect, unsubscribe).
	NotificationsSent    atomic.Uint64 // acknowledged with a 2xx
	NotificationsDropped atomic.Uint64 // pushed out of a full queue, or left at Close
	NotificationsFailed  atomic.Uint64 // every attempt failed

	// Retries counts HTTP attempts after the first, of either kind.
	Retries atomic.Uint64
}
