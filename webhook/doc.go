// Package webhook implements the hub's Hooks over HTTP, for apps that keep
// permissions on their own backend: Herald asks the backend to decide
// connects, subscribes and publishes (allow, deny, or rewrite the
// payload), and tells it of disconnects and unsubscribes.
//
//	hooks, err := webhook.New(webhook.Config{URL: "https://app.example/herald", Secret: secret})
//	h := hub.New(hub.Config{Hooks: hooks, ConnectHook: true,
//		Namespaces: hub.Namespaces{Named: map[string]hub.Namespace{
//			"room": {SubscribeHook: true, PublishHook: true},
//		}}}, broker, verifier)
//	...
//	h.Shutdown(ctx, code) // then
//	hooks.Close(ctx)      // sends the last notifications
//
// Which events are asked is the hub's configuration: Connect with
// hub.Config.ConnectHook, Subscribe and Publish per namespace with
// SubscribeHook and PublishHook. Disconnects and unsubscribes are always
// reported.
//
// # Requests
//
// Every event is a POST to Config.URL with a JSON body (Request) and the
// headers
//
//	Content-Type: application/json
//	User-Agent: Herald-Webhook/1
//	Herald-Event: publish                    (the body's "event")
//	Herald-Delivery: 5f0c…                   (the body's "id")
//	Herald-Attempt: 1                        (1, 2, … on retries)
//	Herald-Signature: t=1711234567,v1=9a3e…  (when Config.Secret is set)
//
// The body, with every field that some event carries:
//
//	{"event":"publish",
//	 "id":"5f0c1b7e9d2a4c3f8e6a1b0d2c4e6f80",   unique per delivery, kept on retries
//	 "timestamp":1711234567890,                 when it happened, ms since the epoch
//	 "client":{"connectionId":"c-7Hq2","userId":"alice",
//	           "info":{"name":"Alice"},         the token's info claim, if any
//	           "remoteAddr":"203.0.113.7:52144"},
//	 "channel":"room.42",                       subscribe, publish, unsubscribe
//	 "eventName":"message.new",                 publish: the app's event, if any
//	 "payload":{"text":"hi"},                   publish: as the client sent it
//	 "code":1000}                               disconnect: the close code
//
// "event" is one of connect, subscribe, publish (decisions) and
// disconnect, unsubscribe (notifications). A disconnect's code is the one
// the client sent (1000 for a normal close), the one the server closed
// with (1001 drain, 4008 slow consumer, …), or 1006 when the connection
// was cut without a close frame. When a client disconnects, the backend
// hears an unsubscribe for each channel it was subscribed to and a
// disconnect (queued in that order, sent concurrently). A connect the
// backend refused is followed by no disconnect.
//
// # Answers
//
// A decision is answered with a 2xx status (200) and a JSON body:
//
//	{"result":"allow"}
//	{"result":"allow","payload":{"text":"h*"}}   publish only: store and deliver this payload instead
//	{"result":"deny","code":"forbidden","message":"you are muted in this room"}
//
// A deny's code is any of the protocol's error codes (forbidden when
// absent or unknown); the client gets an error frame with that code and
// the message (at most 512 bytes), and a denied connect is closed with
// 4003. Anything else is a failure: no answer within the time, a 5xx or
// 429 after the retries, any other status (a 4xx means the backend
// refuses to decide, and is not retried), a body that is not such JSON or
// has another result. The client then gets the error internal ("the app
// backend did not answer; retry later"), and a connect is closed with 1011
// so that the client reconnects with backoff. Herald fails closed: when
// the backend cannot be asked, nothing is allowed.
//
// Notifications are acknowledged by any 2xx; their body is ignored.
//
// # Signatures
//
// With Config.Secret set, each attempt carries
//
//	Herald-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// as Stripe signs its webhooks. The backend verifies it on the raw body,
// before parsing it:
//
//  1. split the header on "," into t and v1 (there may be several v1, for
//     a secret being rotated; one must match);
//  2. compute HMAC-SHA256 over the bytes "<t>.<body>" with the secret and
//     compare it with v1 in constant time;
//  3. reject t more than 5 minutes away from its own clock: a captured
//     request replayed later is refused;
//  4. for notifications, which may be delivered more than once (a retry
//     after an answer that was lost), drop an "id" it has already seen
//     within the same 5 minutes plus the retry span.
//
// Go backends call Verify(secret, r.Header.Get(SignatureHeader), body,
// time.Now(), 0), then decode the body into a Request. Elsewhere, e.g.
// Node:
//
//	const [t, v1] = ["t", "v1"].map(k => header.split(",").find(p => p.startsWith(k + "="))?.slice(k.length + 1));
//	const mac = crypto.createHmac("sha256", secret).update(t + "." + rawBody).digest("hex");
//	const ok = v1?.length === mac.length && crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(v1)) &&
//	           Math.abs(Date.now() / 1000 - Number(t)) <= 300;
//
// The signature's t is the time of the attempt; the body's timestamp is the
// time of the event and stays the same on retries.
//
// # Retries and timeouts
//
// Each attempt is bounded by Config.Timeout (2s). A network error, a
// timeout, a 5xx or a 429 is retried; any other answer is final.
//
// Decisions get Config.Retries (2) more attempts, after 100 ms, then 200 ms,
// … (each wait a random time between half and all of that, at most 1s, or
// the backend's Retry-After within that bound). The hub bounds the whole
// decision with its context (hub.Config.HookTimeout, 3s): when the next
// attempt could not start before the context ends, the decision fails at
// once instead of waiting for nothing. Keep Timeout·(Retries+1) near
// HookTimeout; with the defaults a backend that hangs gets one full
// attempt and most of a second.
//
// Notifications are queued (Config.NotifyQueue, 10,000) and sent by
// Config.NotifyWorkers (4) goroutines, each retried Config.NotifyRetries
// (5) times after 200 ms, 400 ms, … up to 10 s, or after the backend's
// Retry-After up to 10 s. When the queue is full, the oldest is dropped:
// the newest say most about the present. Drops and failures are counted
// in Stats and logged.
//
// # Concurrency properties
//
// Connect, Subscribe and Publish may be called concurrently, from any
// goroutine; each blocks its caller for at most the context's time and
// holds no lock while it waits. Disconnected and Unsubscribed may be
// called concurrently, from any goroutine, and never wait for the network:
// they take the queue's lock for a few instructions and return. The
// notification workers are the package's only goroutines; they run from
// New to Close. Notifications are sent concurrently, so the backend may
// see them in another order than they happened (use "timestamp");
// decisions are not queued behind them. Stats may be read at any time.
// The Hooks hold the ClientInfo and payloads they are given until they are
// sent, and never modify them.
package webhook
