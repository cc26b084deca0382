package heraldclient

import (
	"container/list"
	"time"
)

// outbox holds the publishes waiting for their ack, in the order they were
// made, so that resends after a reconnect keep that order. Its methods are
// called with Client.mu held.
type outbox struct {
	// byKey finds an entry by channel and id (the server's dedupe key).
	byKey map[string]*pending
	order list.List // of *pending
}

// pending is one publish in the outbox.
type pending struct {
	id, channel string
	frame       []byte
	// gen is the connection the frame was last sent on; 0 means it must be
	// sent again (or after retryAt, following a transient error).
	gen      uint64
	retryAt  time.Time
	failures int
	// waiters counts Publish calls waiting for this entry (more than one
	// when WithID repeats an id in flight).
	waiters int
	elem    *list.Element
	// done is closed when ack or err is set.
	done chan struct{}
	ack  Ack
	err  error
}

func (o *outbox) init() { o.byKey = make(map[string]*pending) }

func outboxKey(channel, id string) string { return channel + "\x00" + id }

func (o *outbox) get(channel, id string) *pending {
	if channel != "" {
		return o.byKey[outboxKey(channel, id)]
	}
	// An error frame may leave out the channel; ids are random, so the
	// first entry with the id is the one.
	for e := o.order.Front(); e != nil; e = e.Next() {
		if p := e.Value.(*pending); p.id == id {
			return p
		}
	}
	return nil
}

func (o *outbox) add(p *pending) {
	o.byKey[outboxKey(p.channel, p.id)] = p
	p.elem = o.order.PushBack(p)
}

func (o *outbox) remove(p *pending) {
	if p.elem == nil {
		return
	}
	delete(o.byKey, outboxKey(p.channel, p.id))
	o.order.Remove(p.elem)
	p.elem = nil
}

// resolve removes p and wakes its callers with the outcome.
func (o *outbox) resolve(p *pending, ack Ack, err error) {
	o.remove(p)
	p.ack, p.err = ack, err
	close(p.done)
}

func (o *outbox) failAll(err error) {
	for e := o.order.Front(); e != nil; {
		next := e.Next()
		o.resolve(e.Value.(*pending), Ack{}, err)
		e = next
	}
}

// sendAll sends every entry on a new connection, in order. Entries waiting
// out a retry delay go too: a new connection is a fresh start.
func (o *outbox) sendAll(cn *conn, gen uint64) {
	for e := o.order.Front(); e != nil; e = e.Next() {
		p := e.Value.(*pending)
		cn.send(p.frame)
		p.gen, p.retryAt = gen, time.Time{}
	}
}

// sendDue resends the entries whose retry delay has passed and reports
// whether any still waits.
func (o *outbox) sendDue(cn *conn, gen uint64, now time.Time) bool {
	waiting := false
	for e := o.order.Front(); e != nil; e = e.Next() {
		p := e.Value.(*pending)
		if p.gen != 0 {
			continue
		}
		if now.Before(p.retryAt) {
			waiting = true
			continue
		}
		cn.send(p.frame)
		p.gen, p.retryAt = gen, time.Time{}
	}
	return waiting
}
