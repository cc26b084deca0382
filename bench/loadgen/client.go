package loadgen

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/heraldrt/herald/protocol"
)

// Spec is what one client does when it connects: authenticate with Token,
// then subscribe to each of Channels, live or, with LastSeq, resuming.
type Spec struct {
	Token    string
	Channels []string
	// LastSeq, when not nil, holds one seq per channel of Channels: the
	// client subscribes with lastSeq and expects exactly the messages
	// after it (the subscription is counted as not recovered otherwise).
	// Nil subscribes live.
	LastSeq []uint64
	// URL is the node to connect to. Empty means the Engine's URL.
	URL string
	// Presence subscribes with presence: true, so that the server sends
	// presence_state and presence_diff frames for each channel (see
	// PresenceHandler).
	Presence bool
}

// Handler receives the events of ready clients. See the package doc for
// the goroutines its methods run on.
type Handler interface {
	// Message is called for each message frame on a subscribed channel,
	// after the client has checked its seq for gaps and duplicates.
	Message(c *Client, m *Message)
	// Ack is called for each ack of a publish.
	Ack(c *Client, id []byte, seq uint64)
	// Closed is called once when a connection ends, ready or not. code is
	// the close code the server sent, or 1006 if it sent none.
	Closed(c *Client, code int)
}

// PresenceHandler is the optional capability of a Handler that wants the
// presence frames of subscriptions made with Spec.Presence; a Handler
// without it has them dropped, uncounted.
type PresenceHandler interface {
	// Presence is called for each presence_state and presence_diff frame.
	Presence(c *Client, p *Presence)
}

// NopHandler is a Handler that does nothing, to embed.
type NopHandler struct{}

// Message implements Handler.
func (NopHandler) Message(*Client, *Message) {}

// Ack implements Handler.
func (NopHandler) Ack(*Client, []byte, uint64) {}

// Closed implements Handler.
func (NopHandler) Closed(*Client, int) {}

// Client states.
const (
	stateDialing int32 = iota
	stateAuth
	stateSubscribing
	stateReady
	stateClosed
)

// Client is one load-generator connection speaking Herald's protocol.
type Client struct {
	// Index is the client's number in its Connect call.
	Index int

	engine *Engine
	h      Handler
	spec   Spec
	ws     atomic.Pointer[websocket.Conn]
	state  atomic.Int32
	// subs are the client's subscriptions, in Spec.Channels order.
	subs []subscription
	// pending counts subscribes not yet answered; event loop only.
	pending int

	settleOnce sync.Once
	settle     func(*Client, error)
	closeCode  atomic.Int32
	errors     atomic.Uint64
	lastError  atomic.Pointer[string]
	done       chan struct{}
}

// subscription tracks one channel's seq as the protocol asks a client to:
// a message right after the last one is new, one at or below it is a
// duplicate, one further ahead leaves a gap of lost messages.
type subscription struct {
	channel string
	// resume is set when the subscribe carries lastSeq (last's initial
	// value); a Resubscribe clears it.
	resume atomic.Bool
	last   atomic.Uint64
	// head is the seq the subscribed frame announced.
	head      atomic.Uint64
	recovered atomic.Bool
	messages  atomic.Uint64
	lost      atomic.Uint64
	dup       atomic.Uint64
	// subscribes and unsubscribes count the subscribed and unsubscribed
	// frames received.
	subscribes   atomic.Uint64
	unsubscribes atomic.Uint64
}

// SubStats is a snapshot of one subscription.
type SubStats struct {
	Channel string
	// Last is the last seq received (the head at subscribe time until a
	// message arrives).
	Last uint64
	// Messages counts every message frame received; Lost counts seqs
	// skipped over, Duplicated frames at or below Last.
	Messages, Lost, Duplicated uint64
	// Head is the channel's head the subscribed frame announced.
	Head uint64
	// Resumed tells that the subscribe carried lastSeq, Recovered that
	// the server honoured it. A resume that was not recovered (the server
	// sent snapshot_required) counts the skipped seqs as Lost.
	Resumed, Recovered bool
	// Subscribes counts the subscribed frames received (1, plus one per
	// answered Resubscribe), Unsubscribes the unsubscribed frames.
	Subscribes, Unsubscribes uint64
}

func newClient(e *Engine, i int, s Spec, h Handler, settle func(*Client, error)) *Client {
	c := &Client{Index: i, engine: e, h: h, spec: s, settle: settle, done: make(chan struct{})}
	c.subs = make([]subscription, len(s.Channels))
	for j, ch := range s.Channels {
		c.subs[j].channel = ch
		if s.LastSeq != nil {
			c.subs[j].resume.Store(true)
			c.subs[j].last.Store(s.LastSeq[j])
		}
	}
	return c
}

// Ready reports whether the client is authenticated, subscribed and open.
func (c *Client) Ready() bool { return c.state.Load() == stateReady }

// CloseCode returns the close code the server sent, 1006 if the
// connection ended without one, or 0 while it is open.
func (c *Client) CloseCode() int { return int(c.closeCode.Load()) }

// Errors returns how many error frames the server sent after the client
// became ready, and the message of the last one.
func (c *Client) Errors() (n uint64, last string) {
	if p := c.lastError.Load(); p != nil {
		last = *p
	}
	return c.errors.Load(), last
}

// Subs returns a snapshot of the client's subscriptions.
func (c *Client) Subs() []SubStats {
	out := make([]SubStats, len(c.subs))
	for i := range c.subs {
		s := &c.subs[i]
		out[i] = SubStats{
			Channel: s.channel, Last: s.last.Load(), Messages: s.messages.Load(), Lost: s.lost.Load(), Duplicated: s.dup.Load(),
			Head: s.head.Load(), Resumed: s.resume.Load(), Recovered: s.recovered.Load(),
			Subscribes: s.subscribes.Load(), Unsubscribes: s.unsubscribes.Load(),
		}
	}
	return out
}

// Send writes one text frame as given.
func (c *Client) Send(frame []byte) error {
	ws := c.ws.Load()
	if ws == nil {
		return errors.New("loadgen: client not connected")
	}
	return ws.WriteMessage(websocket.TextMessage, frame)
}

var publishBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Publish sends a publish frame. payload must be one JSON value.
func (c *Client) Publish(id, channel, event string, payload []byte) error {
	bp := publishBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"type":"publish","id":`...)
	b = protocol.AppendString(b, id)
	b = append(b, `,"channel":`...)
	b = protocol.AppendString(b, channel)
	if event != "" {
		b = append(b, `,"event":`...)
		b = protocol.AppendString(b, event)
	}
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	b = append(b, '}')
	// nbio copies (and masks) the frame before writing, so b can be
	// reused at once.
	err := c.Send(b)
	*bp = b
	publishBufs.Put(bp)
	return err
}

// Unsubscribe sends an unsubscribe for the client's channel j (its index
// in Spec.Channels). The server answers unsubscribed (counted in
// SubStats.Unsubscribes); messages stop, and so do presence frames.
func (c *Client) Unsubscribe(j int) error {
	b := append([]byte(`{"type":"unsubscribe","id":"u`), strconv.Itoa(j)...)
	b = append(b, `","channel":`...)
	b = protocol.AppendString(b, c.subs[j].channel)
	return c.Send(append(b, '}'))
}

// Resubscribe subscribes a ready client again to its channel j, live
// (without lastSeq) and with Spec.Presence, after an Unsubscribe. The
// subscribed frame that answers it (counted in SubStats.Subscribes)
// moves the channel's seq accounting to the head it announces, so that
// the messages missed while unsubscribed do not count as lost.
func (c *Client) Resubscribe(j int) error {
	if c.state.Load() != stateReady {
		return errors.New("loadgen: resubscribe before the client is ready")
	}
	// The answer is live: from now on a resume is over.
	c.subs[j].resume.Store(false)
	return c.Send(c.appendSubscribe(nil, j, false, 0))
}

// Close sends a normal close and cuts the connection.
func (c *Client) Close() {
	if ws := c.ws.Load(); ws != nil {
		_ = ws.WriteClose(protocol.CloseNormal, "")
		_ = ws.Close()
	}
}

// Abort cuts the connection without a close frame.
func (c *Client) Abort() {
	if ws := c.ws.Load(); ws != nil {
		_ = ws.Close()
	}
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// connected runs on the event loop once the upgrade is done: send auth.
func (c *Client) connected(ws *websocket.Conn) {
	ws.SetSession(c)
	c.ws.Store(ws)
	c.state.Store(stateAuth)
	b := append([]byte(`{"type":"auth","id":"a","token":`), protocol.AppendString(nil, c.spec.Token)...)
	b = append(b, '}')
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.settleConnect(fmt.Errorf("send auth: %w", err))
		_ = ws.Close()
	}
}

// settleConnect reports the outcome of connecting, once: nil when the
// client is ready, else why it could not be.
func (c *Client) settleConnect(err error) {
	c.settleOnce.Do(func() { c.settle(c, err) })
}

// dialFailed ends a client whose connection never reached the WebSocket
// stage, so nbio will not report its end.
func (c *Client) dialFailed(err error) {
	if c.state.Swap(stateClosed) != stateClosed {
		c.closeCode.CompareAndSwap(0, 1006)
		c.engine.untrack(c)
		close(c.done)
	}
	c.settleConnect(err)
}

// ended runs when nbio reports the connection closed.
func (c *Client) ended(error) {
	c.closeCode.CompareAndSwap(0, 1006)
	code := int(c.closeCode.Load())
	was := c.state.Swap(stateClosed)
	c.engine.untrack(c)
	if was != stateReady && was != stateClosed {
		c.settleConnect(fmt.Errorf("connection closed (code %d) before it was ready", code))
	}
	if was != stateClosed {
		close(c.done)
		c.h.Closed(c, code)
	}
}

// onFrame handles one text frame from the server, on the event loop.
func (c *Client) onFrame(b []byte) {
	e := c.engine
	e.stats.frames.Add(1)
	e.stats.bytes.Add(uint64(len(b)))
	var m Message
	if parseMessage(b, &m) {
		c.onMessage(&m)
		return
	}
	if id, seq, ok := parseAck(b); ok {
		c.h.Ack(c, id, seq)
		return
	}
	var p Presence
	if parsePresence(b, &p) {
		c.onPresence(&p)
		return
	}
	e.stats.slowFrames.Add(1)
	frames, err := decodeFrames(b)
	if err != nil {
		c.onError(fmt.Sprintf("undecodable frame %.80q: %v", b, err))
		return
	}
	for i := range frames {
		// A batch's frames share its size.
		c.onDecoded(&frames[i], len(b)/len(frames))
	}
}

// onPresence hands a presence frame to a handler that wants it.
func (c *Client) onPresence(p *Presence) {
	if h, ok := c.h.(PresenceHandler); ok {
		h.Presence(c, p)
	}
}

// onDecoded handles a frame that took the slow path; size is its length
// in bytes.
func (c *Client) onDecoded(f *protocol.Frame, size int) {
	switch f.Type {
	case protocol.TypeMessage:
		c.onMessage(&Message{Channel: []byte(f.Channel), Seq: f.Seq, Payload: f.Payload, Timestamp: f.Timestamp, Size: len(f.Payload) + 64})
	case protocol.TypeAck:
		c.h.Ack(c, []byte(f.ID), f.Seq)
	case protocol.TypeAuthOK:
		if !c.state.CompareAndSwap(stateAuth, stateSubscribing) {
			return // a refresh
		}
		c.subscribe()
	case protocol.TypeSubscribed:
		connecting := c.state.Load() == stateSubscribing
		for i := range c.subs {
			if s := &c.subs[i]; s.channel == f.Channel {
				s.subscribed(f.Seq, f.Recovered)
				s.subscribes.Add(1)
				if connecting {
					c.pending--
				}
			}
		}
		if connecting && c.pending == 0 && c.state.CompareAndSwap(stateSubscribing, stateReady) {
			c.settleConnect(nil)
		}
	case protocol.TypeUnsubscribed:
		for i := range c.subs {
			if s := &c.subs[i]; s.channel == f.Channel {
				s.unsubscribes.Add(1)
			}
		}
	case protocol.TypePresenceState, protocol.TypePresenceDiff:
		c.onPresence(&Presence{Channel: []byte(f.Channel), State: f.Type == protocol.TypePresenceState, Count: f.Count, Size: size})
	case protocol.TypeError:
		msg := string(f.Code) + ": " + f.Message
		if f.Ref != "" {
			msg += " (ref " + f.Ref + ")"
		}
		c.onError(msg)
	}
}

// subscribe sends one subscribe per channel, in one batch.
func (c *Client) subscribe() {
	if len(c.subs) == 0 {
		if c.state.CompareAndSwap(stateSubscribing, stateReady) {
			c.settleConnect(nil)
		}
		return
	}
	c.pending = len(c.subs)
	b := []byte{'['}
	for i := range c.subs {
		if i > 0 {
			b = append(b, ',')
		}
		s := &c.subs[i]
		b = c.appendSubscribe(b, i, s.resume.Load(), s.last.Load())
	}
	b = append(b, ']')
	if err := c.Send(b); err != nil {
		c.settleConnect(fmt.Errorf("send subscribe: %w", err))
	}
}

// appendSubscribe appends the subscribe frame of channel i, resuming
// from lastSeq if resume is set.
func (c *Client) appendSubscribe(b []byte, i int, resume bool, lastSeq uint64) []byte {
	b = append(b, `{"type":"subscribe","id":"s`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","channel":`...)
	b = protocol.AppendString(b, c.subs[i].channel)
	if resume {
		b = append(b, `,"lastSeq":`...)
		b = strconv.AppendUint(b, lastSeq, 10)
	}
	if c.spec.Presence {
		b = append(b, `,"presence":true`...)
	}
	return append(b, '}')
}

// subscribed records the subscribed frame: head is the channel's head. A
// live subscription goes on from head; a recovered resume from its
// lastSeq, with the replay to come; a resume the server could not honour
// goes on live from head, and what it skipped is lost.
func (s *subscription) subscribed(head uint64, recovered bool) {
	s.head.Store(head)
	s.recovered.Store(recovered)
	resume := s.resume.Load()
	if resume && recovered {
		return
	}
	if last := s.last.Load(); resume && head > last {
		s.lost.Add(head - last)
	}
	s.last.Store(head)
}

func (c *Client) onMessage(m *Message) {
	var sub *subscription
	for i := range c.subs {
		if c.subs[i].channel == string(m.Channel) {
			sub = &c.subs[i]
			break
		}
	}
	if sub == nil {
		c.onError("message on a channel not subscribed: " + string(m.Channel))
		return
	}
	sub.messages.Add(1)
	last := sub.last.Load()
	switch {
	case m.Seq == last+1:
		sub.last.Store(m.Seq)
	case m.Seq <= last:
		sub.dup.Add(1)
	default:
		sub.lost.Add(m.Seq - last - 1)
		sub.last.Store(m.Seq)
	}
	c.h.Message(c, m)
}

// onError records an error frame; before the client is ready it fails it.
func (c *Client) onError(msg string) {
	if st := c.state.Load(); st == stateAuth || st == stateSubscribing {
		c.settleConnect(errors.New("server: " + msg))
		c.Abort()
		return
	}
	c.errors.Add(1)
	c.lastError.Store(&msg)
}
