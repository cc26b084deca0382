// Package heraldclient is the Go SDK for Herald's protocol
// (docs/PROTOCOL.md), over WebSocket or its HTTP fallback (SSE and POST). App backends, tests and the load generator use it to
// subscribe and publish without writing the reconnect logic themselves: a
// Client keeps a connection up across network failures and keeps Herald's
// promises on its side of the wire. It imports only the standard library,
// the protocol package and github.com/coder/websocket.
//
//	c, err := heraldclient.New(heraldclient.Config{
//		URL:   "ws://127.0.0.1:8080/ws",
//		Token: func(ctx context.Context) (string, error) { return myBackend.Token(ctx) },
//	})
//	if err != nil { … }
//	defer c.Close()
//	if err := c.Connect(ctx); err != nil { … } // auth failed, or ctx ended
//	sub, err := c.Subscribe(ctx, "chat.1", heraldclient.SubscribeOptions{})
//	go func() {
//		for m := range sub.Messages() {
//			if m.SnapshotRequired != nil { reload(m.Channel); continue }
//			handle(m)
//		}
//	}()
//	ack, err := c.Publish(ctx, "chat.1", "message.new", map[string]any{"text": "hi"})
//	page, err := c.History(ctx, "chat.1", heraldclient.HistoryOptions{Limit: 50}) // the newest 50
//	if prev, ok := page.Prev(); ok { older, err := c.History(ctx, "chat.1", prev) … }
//
// # What the client guarantees
//
//   - Reconnect. A lost connection is re-established after a random delay
//     below a ceiling that starts at Config.BackoffMin and doubles per
//     failed attempt up to Config.BackoffMax (full jitter); a connection
//     that stayed up for Config.BackoffReset starts the ceiling over.
//     Config.Token is called before every attempt.
//   - Once, in order. Each Subscription remembers the seq of the last
//     message it delivered and resubscribes from it after a reconnect, so
//     the server replays exactly what was missed. Messages with a seq at or
//     below it are dropped (duplicates at the seam); a message past the
//     next seq is never delivered out of order (the client resubscribes
//     instead). When the server can no longer replay, the stream carries a
//     Message with SnapshotRequired set, in order, and continues from the
//     channel's head.
//   - No lost publishes. Publish keeps each publish in an outbox until it
//     is acked and resends it with the same id after every reconnect; the
//     server dedupes by id and answers a retry with the first ack.
//   - Requests survive reconnects. History is sent once connected, and a
//     History call whose page was lost with a connection is sent again on
//     the next one (reading is idempotent); only its ctx ends it early.
//   - Token refresh. On token_expiring the client calls Token and sends the
//     new token as auth on the same connection; subscriptions go on.
//   - Heartbeat. The client sends a ping frame every Config.PingInterval and
//     drops the connection (and reconnects) when nothing at all arrived
//     within Config.PongTimeout after one. It also answers the server's
//     WebSocket pings, since its reader is always reading, and over SSE
//     the server's ping events, with an empty POST.
//
// # Transports
//
// Where WebSocket is blocked (proxies that strip the upgrade), the client
// speaks the same protocol over PROTOCOL.md §19: the server's frames come
// down a Server-Sent Events stream (GET /sse) and the client's go up in
// POST /sse/send requests, one in flight at a time, carrying what queued
// meanwhile as newline-delimited batches. Everything above holds on both.
// Config.Transports lists the transports in order of preference
// (WebSocket, then SSE, by default); an attempt that fails before auth_ok
// makes the next attempt use the next transport, the client sticks to the
// one that connected, and off the first one it tries the first again on
// every 5th attempt. Client.Transport tells which one is in use. Over SSE
// a stream that ends without a close event counts as 1006.
//
// # Close codes
//
// The client follows PROTOCOL.md §10. It stops for good (State becomes
// StateClosed, Err returns a *CloseError, pending calls fail with it) after
// 1000 (the server ended the session on purpose: "no, not automatically"),
// 1008 (policy; a retry would not fix it) and 4003 (the identity may no
// longer use the connection). After 4001 it reconnects with backoff, which
// by design means with a new token from Config.Token. Every other code,
// known or not, and a connection lost without a close frame (1006)
// reconnect with backoff; for 1001 and 4008 on a connection that was
// healthy, that means within BackoffMin.
//
// Connect is stricter than the reconnect loop: if the token provider fails
// or the server refuses the token, Connect returns that error at once (a
// refusal wraps an *Error with code unauthorized), since retrying cannot
// help the caller who is waiting. Later, once the client has been
// connected, the same failures are retried with backoff, because a token
// backend that is briefly down must not end a long-lived client.
//
// # Errors
//
// An error frame from the server is returned as an *Error by the call it
// answers (matched by the frame's id): Subscribe, Publish, Unsubscribe,
// History, or Connect for auth. Codes are protocol.Code values; a code the client does
// not know is reported as internal. Transient codes (internal,
// rate_limited) are retried by the client for publishes and resubscribes;
// the others end the call. History returns every error to its caller, who
// may retry a transient one after a pause.
//
// # Edits, deletes and reactions
//
// Edit, Delete, React and Unreact publish op entries (PROTOCOL.md §18):
// messages of their own, with their own seq, acked and retried like
// Publish, that change the earlier message at a seq. Only a message's
// author may edit or delete it. A Subscription delivers op entries in
// the stream like any message, with Op and Ref set; the app applies them
// to the message at Ref: an edit replaces its Payload, a delete drops it,
// react and unreact add or remove the entry's From under the key in
// Payload. A replay (a resubscribe from LastSeq) and History deliver each
// message as it stands instead, with EditedAt, Deleted and Reactions set,
// and the op entries after it too: applying those again, in seq order,
// leaves the message as it stands, so the app needs no special case.
//
// # Presence, typing, receipts, status and state
//
// A subscription made with SubscribeOptions.Presence follows who is in
// the channel (Presence, PresenceEvents); SendTyping and Typing,
// TypingNotices carry typing notices; with SubscribeOptions.Receipts,
// MarkDelivered and MarkRead report positions, and Unread, Receipts,
// ReadBy, DeliveredTo and ReceiptEvents read everyone's (PROTOCOL.md
// §14–15). WatchUser follows a contact's status (§16). With
// SubscribeOptions.State, State holds the channel's state, which SetState
// writes (§17). Event channels hold live state, not a log: when the app
// does not take them the oldest events are dropped, and the accessors
// stay exact. Client.Presence and History are requests: sent on connect,
// sent again after a reconnect, bounded by their context.
//
// # Backpressure
//
// Each Subscription hands messages to the app through a buffered channel
// (Config.BufferSize, default 1024). The reader never blocks on it: when
// the app has not made room, the subscription is paused: the message is
// not delivered, the client unsubscribes that channel on the server, and
// once the app has drained the buffer to half it resubscribes from the last
// seq it delivered, and the server replays from there. So a slow app costs
// a replay, never a lost or duplicated message, and never stalls the other
// channels, the acks or the heartbeat on the same connection. The replay
// needs the messages to still be retained by the server; an app that falls
// behind by more than the retention window sees a SnapshotRequired notice.
//
// # Concurrency properties
//
// All methods of Client and Subscription may be called from any goroutine,
// concurrently. Publish calls are independent: many may be in flight at
// once, and they are resent after a reconnect in the order they were made.
// Subscribe, Unsubscribe and Close may race with anything; a call that
// loses against Close returns ErrClosed. Messages() of one Subscription is
// meant for one consuming goroutine (several may receive from it, but then
// the order between them is lost).
//
// Goroutines: a Client runs one run-loop goroutine from Connect until it
// stops; it dials, refreshes tokens and supervises. Each connection runs
// exactly one reader goroutine (decodes frames and routes them, never
// blocking on the app) and one writer goroutine (the only writer to the
// socket; it coalesces queued frames into batches and sends the heartbeat
// pings; over SSE it makes the POST requests, one at a time, and the
// reader reads the event stream). Close waits for all of them, so a closed Client leaves no
// goroutine behind. Callbacks (Config.OnStateChange, Config.Token) are
// called from the run loop, one at a time.
//
// Ownership: Message values, including their Payload, belong to the
// receiver. Publish encodes payload before it returns and does not keep it.
//
// One lock (Client.mu) guards the client's state: subscriptions, outbox,
// the current connection. A connection's write queue has its own lock,
// taken after Client.mu; nothing blocks while holding either.
package heraldclient
