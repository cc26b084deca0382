package natsbroker

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/heraldrt/herald/internal/testbrokers"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startEmbedded starts a nats-server with JetStream in the test binary,
// on a free port with its store in a temporary directory, which the test
// may restart; the test's cleanup stops it.
func startEmbedded(t testing.TB) *embedded {
	t.Helper()
	return &embedded{testbrokers.StartNATS(t)}
}

type embedded struct{ *testbrokers.NATS }

func (e *embedded) url() string  { return e.URL() }
func (e *embedded) addr() string { return strings.TrimPrefix(e.URL(), "nats://") }

// proxy forwards TCP connections to a server, and can cut them all at
// once, as a network blink does; new connections go through afterwards.
type proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: target, ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// sharedServerURL is the NATS server installed on the project's machines
// (nats-server 2.9.10, JetStream on). Tests use it when it answers, and
// never stop it or touch what others keep on it.
const sharedServerURL = "nats://127.0.0.1:4222"

// sharedServer returns a connection to the shared server, or skips.
func sharedServer(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(sharedServerURL, nats.Timeout(time.Second), nats.MaxReconnects(0))
	if err != nil {
		t.Skipf("no NATS server at %s (%v): the 2.9 compatibility run needs the shared server", sharedServerURL, err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = js.AccountInfo(ctx)
		cancel()
	}
	if err != nil {
		nc.Close()
		t.Skipf("the NATS server at %s has no JetStream: %v", sharedServerURL, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// deletePrefix deletes exactly the streams and buckets of prefix.
func deletePrefix(t testing.TB, nc *nats.Conn, prefix string) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Error(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := newNames(prefix)
	lister := js.StreamNames(ctx)
	var doomed []string
	for name := range lister.Name() {
		switch {
		case name == "KV_"+n.presenceBucket(), name == "KV_"+n.leaseBucket(), name == "KV_"+n.mapBucket():
			doomed = append(doomed, name)
		case strings.HasPrefix(name, n.streamPrefix):
			// Only a stream of this prefix's subjects is ours.
			st, err := js.Stream(ctx, name)
			if err == nil && len(st.CachedInfo().Config.Subjects) > 0 &&
				strings.HasPrefix(st.CachedInfo().Config.Subjects[0], prefix+".") {
				doomed = append(doomed, name)
			}
		}
	}
	if err := lister.Err(); err != nil {
		t.Errorf("list streams: %v", err)
	}
	for _, name := range doomed {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", name, err)
		}
	}
}
