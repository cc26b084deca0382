package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/bench/loadgen"
	"github.com/heraldrt/herald/bench/report"
)

// ReconnectConfig configures RunReconnect. The zero value of each field
// is its documented default.
type ReconnectConfig struct {
	// Subscribers is how many clients drop and come back. Zero means
	// 10,000.
	Subscribers int
	// Channels is how many channels they are spread over, subscriber i
	// on channel i mod Channels. Zero means 100.
	Channels int
	// Missed is how many messages are published while the subscribers
	// are away, round-robin over the channels (so each subscriber misses
	// about Missed/Channels). At least Channels. Zero means 1,000.
	Missed int
	// PayloadSize is the payload's size in bytes. Zero means 100.
	PayloadSize int
	// Timeout bounds each phase: a connect, a drop, the publishing, the
	// recovery. Zero means 2m.
	Timeout time.Duration
}

func (c *ReconnectConfig) setDefaults() error {
	if c.Subscribers <= 0 {
		c.Subscribers = 10000
	}
	if c.Channels <= 0 {
		c.Channels = 100
	}
	if c.Missed <= 0 {
		c.Missed = 1000
	}
	if c.PayloadSize <= 0 {
		c.PayloadSize = 100
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.Subscribers > MaxConnsPerProcess {
		return fmt.Errorf("bench: %d subscribers asked, but one process can hold at most %d connections here (open-files limit 20,000 per process)", c.Subscribers, MaxConnsPerProcess)
	}
	if c.Channels > c.Subscribers {
		return fmt.Errorf("bench: %d channels for %d subscribers: some would have none", c.Channels, c.Subscribers)
	}
	if c.Missed < c.Channels {
		return fmt.Errorf("bench: %d missed messages over %d channels: every channel needs one at least", c.Missed, c.Channels)
	}
	return nil
}

// publishRoundGap spaces the rounds of publishing (one publish per
// channel each) so that no publisher goes past the server's default rate
// of 1,000 publishes/s per connection.
const publishRoundGap = 2 * time.Millisecond

// reconnectRun is the state of one RunReconnect.
type reconnectRun struct {
	env      *Env
	cfg      ReconnectConfig
	channels []string
	tokens   []string // subscriber i's, minted before any timing
	pubToken string
	pub      *publisher
}

// Phases of the reconnect scenario's publishes, in their stamps.
const (
	warmUpPhase = iota
	awayPhase
)

// RunReconnect connects cfg.Subscribers clients, then measures two
// reconnect storms from a server that has just seen them all drop: a
// plain one (connect, authenticate, subscribe live), and, after
// cfg.Missed messages were published while the clients were away, a
// resume with lastSeq, timed until every client has every message it
// missed. Every resuming client checks that it got exactly the messages
// after its lastSeq: none lost, none twice.
func RunReconnect(ctx context.Context, env *Env, cfg ReconnectConfig) (*ReconnectReport, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	run, err := randomID()
	if err != nil {
		return nil, err
	}
	r := &reconnectRun{env: env, cfg: cfg}
	r.channels = make([]string, cfg.Channels)
	for k := range r.channels {
		r.channels[k] = "bench.reconnect." + run + "." + strconv.Itoa(k)
	}
	r.pub = &publisher{run: run, size: cfg.PayloadSize, phases: []*phase{{}, {}}, heads: make([]atomic.Uint64, cfg.Channels)}
	if r.pubToken, err = env.Token("publisher", "bench.reconnect."+run+".*"); err != nil {
		return nil, err
	}
	r.tokens = make([]string, cfg.Subscribers)
	for i := range r.tokens {
		if r.tokens[i], err = env.Token("r"+strconv.Itoa(i), r.channel(i)); err != nil {
			return nil, err
		}
	}
	rep := &ReconnectReport{
		Scenario: "reconnect", Server: env.serverInfo(), Subscribers: cfg.Subscribers, Channels: cfg.Channels,
		Missed: cfg.Missed, PayloadBytes: cfg.PayloadSize, InFlight: env.Load.InFlight(), TargetRatio: ReconnectTargetRatio,
	}
	var clients []*loadgen.Client
	defer func() { loadgen.CloseAll(clients) }()

	// A cold start, and one message per channel that every subscriber
	// must get live, so that the resumes below start past seq 0.
	live := &liveSink{}
	clients, rep.FirstConnect, err = r.connect(ctx, "connecting", nil, live, nil)
	if err != nil {
		return rep, err
	}
	if err := r.warmUp(ctx, clients); err != nil {
		return rep, err
	}
	if err := r.drop(ctx, clients, 0, rep); err != nil {
		return rep, err
	}

	// The plain storm.
	clients, rep.PlainReconnect, err = r.connect(ctx, "plain reconnect", nil, live, nil)
	if err != nil {
		return rep, err
	}
	lastSeq := make([]uint64, len(clients))
	for i, c := range clients {
		lastSeq[i] = c.Subs()[0].Last
	}
	if err := r.drop(ctx, clients, 0, rep); err != nil {
		return rep, err
	}
	if n := live.messages.Load(); n != uint64(cfg.Subscribers) {
		return rep, fmt.Errorf("bench: %d messages reached live subscribers, %d expected (the warm-up's)", n, cfg.Subscribers)
	}

	// Away: publish, and note what each client must get back.
	if err := r.publishAway(ctx, rep); err != nil {
		return rep, err
	}
	want := make([]uint64, len(lastSeq))
	for i, l := range lastSeq {
		head := r.pub.head(i % cfg.Channels)
		if head <= l {
			return rep, fmt.Errorf("bench: channel %s at seq %d after the publishes, subscriber %d had seen %d", r.channel(i), head, i, l)
		}
		want[i] = head
		rep.ReplayExpected += head - l
	}

	// The resume storm.
	rec := newRecoverySink(want, r.env.prog)
	replayed0, replayErr := r.serverCounter(ctx, "herald_replayed_messages_total")
	resumes0, resumeErr := r.serverCounter(ctx, "herald_resumes_total")
	srv0, srvErr := r.env.ServerSample()
	self0, selfErr := selfSample()
	clients, rep.ResumeSubscribed, err = r.connect(ctx, "resuming", lastSeq, rec, rec.begin)
	if err != nil {
		return rep, err
	}
	rep.Resume, err = rec.wait(ctx, r.env, r.cfg.Timeout)
	if err != nil {
		r.verify(clients, want, rep) // why, in the report
		return rep, fmt.Errorf("%w (%d not recovered, %d closed)", err, rep.NotRecovered, rep.Closed)
	}
	if srv1, err := r.env.ServerSample(); err == nil && srvErr == nil {
		rep.Resume.ServerCPUSeconds = (srv1.CPU - srv0.CPU).Seconds()
	}
	if self1, err := selfSample(); err == nil && selfErr == nil {
		rep.Resume.LoadCPUSeconds = (self1.CPU - self0.CPU).Seconds()
	}
	// Anything more arriving now would be a duplicate.
	if err := r.env.sleep(ctx, 250*time.Millisecond); err != nil {
		return rep, err
	}
	if replayErr == nil && resumeErr == nil {
		replayed1, err1 := r.serverCounter(ctx, "herald_replayed_messages_total")
		resumes1, err2 := r.serverCounter(ctx, "herald_resumes_total")
		if err1 == nil && err2 == nil {
			d, n := replayed1-replayed0, resumes1-resumes0
			rep.ServerReplayed, rep.ServerResumes = &d, &n
		}
	}
	r.verify(clients, want, rep)
	if rep.PlainReconnect.Seconds > 0 {
		rep.Ratio = rep.Resume.Seconds / rep.PlainReconnect.Seconds
		rep.MeetsTarget = rep.Ratio <= rep.TargetRatio
	}
	if rep.Resume.Seconds > 0 {
		rep.ReplayPerSec = float64(rep.Received) / rep.Resume.Seconds
	}
	switch {
	case rep.Lost > 0 || rep.Duplicated > 0:
		return rep, fmt.Errorf("bench: %d messages lost and %d duplicated on resume", rep.Lost, rep.Duplicated)
	case rep.NotRecovered > 0:
		return rep, fmt.Errorf("bench: %d of %d resumes were not recovered (snapshot_required)", rep.NotRecovered, cfg.Subscribers)
	case rep.Closed > 0:
		return rep, fmt.Errorf("bench: %d clients closed while resuming (%v)", rep.Closed, rep.CloseCodes)
	}
	return rep, nil
}

// channel returns the channel of subscriber i.
func (r *reconnectRun) channel(i int) string { return r.channels[i%len(r.channels)] }

// connect connects every subscriber, live (lastSeq nil) or resuming, and
// times each one from the start until it is subscribed. begin, if not
// nil, is called right before the first dial.
func (r *reconnectRun) connect(ctx context.Context, name string, lastSeq []uint64, h loadgen.Handler, begin func(time.Time)) ([]*loadgen.Client, ConnectPhase, error) {
	n := r.cfg.Subscribers
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if lastSeq == nil {
		r.env.prog.Phase(name, int64(n))
		defer r.env.prog.Done()
	}
	readyAt := make([]atomic.Int64, n) // by the order they became ready
	srv0, srvErr := r.env.ServerSample()
	self0, selfErr := selfSample()
	start := time.Now()
	if begin != nil {
		begin(start)
	}
	clients, err := r.env.Load.Connect(ctx, n, func(i int) (loadgen.Spec, error) {
		s := loadgen.Spec{Token: r.tokens[i], Channels: []string{r.channel(i)}, URL: r.env.NodeURL(i)}
		if lastSeq != nil {
			s.LastSeq = []uint64{lastSeq[i]}
		}
		return s, nil
	}, h, func(k int) {
		readyAt[k-1].Store(int64(time.Since(start)))
		if lastSeq == nil && (k%100 == 0 || k == n) {
			r.env.prog.Set(int64(k))
		}
	})
	if err != nil {
		if gone := r.env.serverGone(); gone != nil {
			err = gone
		}
		return nil, ConnectPhase{}, fmt.Errorf("bench: %s: %w", name, err)
	}
	times := make([]time.Duration, n)
	for k := range readyAt {
		times[k] = time.Duration(readyAt[k].Load())
	}
	p := newConnectPhase(slices.Max(times), times)
	if srv1, err := r.env.ServerSample(); err == nil && srvErr == nil {
		p.ServerCPUSeconds = (srv1.CPU - srv0.CPU).Seconds()
	}
	if self1, err := selfSample(); err == nil && selfErr == nil {
		p.LoadCPUSeconds = (self1.CPU - self0.CPU).Seconds()
	}
	return clients, p, nil
}

// warmUp publishes one message per channel and waits until every
// subscriber has it.
func (r *reconnectRun) warmUp(ctx context.Context, clients []*loadgen.Client) error {
	perChannel := make([]int, len(r.channels))
	for k := range perChannel {
		perChannel[k] = 1
	}
	if err := r.publish(ctx, "warm-up", warmUpPhase, perChannel, len(clients)); err != nil {
		return err
	}
	deadline := time.Now().Add(r.cfg.Timeout)
	for {
		behind := 0
		for i, c := range clients {
			if c.Subs()[0].Last < r.pub.head(i%len(r.channels)) {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: warm-up: %d subscribers still without the message after %v", behind, r.cfg.Timeout)
		}
		if err := r.env.sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

// publishAway publishes cfg.Missed messages round-robin over the
// channels while no subscriber is connected.
func (r *reconnectRun) publishAway(ctx context.Context, rep *ReconnectReport) error {
	perChannel := make([]int, len(r.channels))
	for k := range r.cfg.Missed {
		perChannel[k%len(perChannel)]++
	}
	start := time.Now()
	if err := r.publish(ctx, fmt.Sprintf("publishing %d while away", r.cfg.Missed), awayPhase, perChannel, 0); err != nil {
		return err
	}
	rep.PublishSeconds = time.Since(start).Seconds()
	rep.PublishAck = report.Summarize(&r.pub.phases[awayPhase].ack)
	return nil
}

// publish connects one publisher per channel, publishes perChannel[k]
// messages on channel k as phase ph, in rounds of one per channel,
// waits for every ack and disconnects the publishers, waiting until the
// server has let them go (and has only others left open).
func (r *reconnectRun) publish(ctx context.Context, name string, ph int, perChannel []int, others int) error {
	total := 0
	for _, n := range perChannel {
		total += n
	}
	r.env.prog.Phase(name, int64(total))
	defer r.env.prog.Done()
	pubs, err := r.env.Load.Connect(ctx, len(r.channels), func(k int) (loadgen.Spec, error) {
		return loadgen.Spec{Token: r.pubToken, URL: r.env.NodeURL(k)}, nil
	}, r.pub, nil)
	if err != nil {
		return fmt.Errorf("bench: publishers: %w", err)
	}
	defer loadgen.CloseAll(pubs)
	start := time.Now()
	acked0 := r.pub.acked.Load()
	for round, sent := 0, 0; sent < total; round++ {
		if err := r.env.sleep(ctx, time.Until(start.Add(time.Duration(round)*publishRoundGap))); err != nil {
			return err
		}
		for k, c := range pubs {
			if perChannel[k] <= round {
				continue
			}
			if err := r.pub.publish(c, k, r.channels[k], ph); err != nil {
				return fmt.Errorf("bench: publish: %w", err)
			}
			sent++
		}
		r.env.prog.Set(int64(r.pub.acked.Load() - acked0))
	}
	deadline := time.Now().Add(r.cfg.Timeout)
	for !r.pub.allAcked() {
		for _, c := range pubs {
			if n, last := c.Errors(); n > 0 {
				return fmt.Errorf("bench: %s: the server refused a publish: %s", name, last)
			}
			if !c.Ready() {
				return fmt.Errorf("bench: %s: a publisher's connection was closed (code %d)", name, c.CloseCode())
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s: %d publishes not acked after %v", name, uint64(total)-(r.pub.acked.Load()-acked0), r.cfg.Timeout)
		}
		r.env.prog.Set(int64(r.pub.acked.Load() - acked0))
		if err := r.env.sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
	r.env.prog.Set(int64(total))
	return r.drop(ctx, pubs, others, nil)
}

// drop cuts clients without a close frame, as a lost network would, and
// waits until the nodes have no more than remain connections left, so
// that the next storm starts from an idle server (and a server near its
// open-files limit does not hold the old and the new connections at
// once). It reads the nodes' herald_connections gauge; without it, it
// waits a second. rep, if not nil, notes how long the server took.
func (r *reconnectRun) drop(ctx context.Context, clients []*loadgen.Client, remain int, rep *ReconnectReport) error {
	if rep != nil {
		r.env.prog.Phase("dropping", int64(len(clients)))
		defer r.env.prog.Done()
	}
	start := time.Now()
	loadgen.CloseAll(clients)
	wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if err := loadgen.WaitClosed(wctx, clients); err != nil {
		return fmt.Errorf("bench: drop: %w", err)
	}
	for first := true; ; first = false {
		open, err := r.serverCounter(wctx, "herald_connections")
		if err != nil && first {
			if rep != nil {
				rep.DropWait = fmt.Sprintf("server connections unknown (%v): waited 1s", err)
			}
			return r.env.sleep(ctx, time.Second)
		}
		if err != nil {
			return fmt.Errorf("bench: drop: %w", err)
		}
		if rep != nil {
			r.env.prog.Set(min(int64(len(clients)), int64(len(clients))+int64(remain)-int64(open)))
		}
		if open <= uint64(remain) {
			if rep != nil {
				rep.DropSeconds = max(rep.DropSeconds, time.Since(start).Seconds())
			}
			return nil
		}
		if err := r.env.sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// serverCounter reads a metric from every node and adds it up.
func (r *reconnectRun) serverCounter(ctx context.Context, name string) (uint64, error) {
	var sum float64
	for _, s := range r.env.Servers {
		v, err := s.Metric(ctx, name)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return uint64(sum), nil
}

// verify checks every resumed client: recovered, exactly the messages
// after its lastSeq, each once.
func (r *reconnectRun) verify(clients []*loadgen.Client, want []uint64, rep *ReconnectReport) {
	rep.CloseCodes = map[string]int{}
	for i, c := range clients {
		s := c.Subs()[0]
		rep.Received += s.Messages
		rep.Lost += s.Lost
		rep.Duplicated += s.Duplicated
		if !s.Recovered {
			rep.NotRecovered++
		}
		if !c.Ready() {
			rep.Closed++
			rep.CloseCodes[strconv.Itoa(c.CloseCode())]++
		}
		if s.Last < want[i] {
			rep.Lost += want[i] - s.Last
		}
	}
}

// liveSink counts the messages live subscribers get.
type liveSink struct {
	loadgen.NopHandler
	messages atomic.Uint64
}

// Message implements loadgen.Handler.
func (s *liveSink) Message(*loadgen.Client, *loadgen.Message) { s.messages.Add(1) }

// recoverySink times each resuming client until it has the head its
// channel had when the subscribers came back.
type recoverySink struct {
	loadgen.NopHandler
	want  []uint64 // by client index
	prog  Progress
	start atomic.Int64 // unix ns, set by begin
	at    []atomic.Int64
	done  atomic.Int64
	all   chan struct{}
}

func newRecoverySink(want []uint64, prog Progress) *recoverySink {
	return &recoverySink{want: want, prog: prog, at: make([]atomic.Int64, len(want)), all: make(chan struct{})}
}

// begin starts the clock and the progress bar.
func (s *recoverySink) begin(t time.Time) {
	s.start.Store(t.UnixNano())
	s.prog.Phase("resuming (clients with every missed message)", int64(len(s.want)))
}

// Message implements loadgen.Handler.
func (s *recoverySink) Message(c *loadgen.Client, m *loadgen.Message) {
	i := c.Index
	if m.Seq < s.want[i] {
		return
	}
	el := time.Now().UnixNano() - s.start.Load()
	if !s.at[i].CompareAndSwap(0, max(el, 1)) {
		return
	}
	n := s.done.Add(1)
	if n%100 == 0 || int(n) == len(s.want) {
		s.prog.Set(n)
	}
	if int(n) == len(s.want) {
		close(s.all)
	}
}

// wait waits until every client has recovered, or nothing has progressed
// for 10s, or timeout, and returns the recovery's timing.
func (s *recoverySink) wait(ctx context.Context, env *Env, timeout time.Duration) (ConnectPhase, error) {
	defer s.prog.Done()
	deadline := time.Now().Add(timeout)
	last, lastMove := s.done.Load(), time.Now()
	for {
		select {
		case <-s.all:
		default:
			if n := s.done.Load(); n != last {
				last, lastMove = n, time.Now()
			}
			if time.Now().After(deadline) || time.Since(lastMove) > 10*time.Second {
				return ConnectPhase{}, fmt.Errorf("bench: %d of %d clients have every missed message, and no more for %v", last, len(s.want), time.Since(lastMove).Round(time.Second))
			}
			if err := env.sleep(ctx, 10*time.Millisecond); err != nil {
				return ConnectPhase{}, err
			}
			continue
		}
		break
	}
	times := make([]time.Duration, len(s.at))
	for i := range s.at {
		times[i] = time.Duration(s.at[i].Load())
	}
	return newConnectPhase(slices.Max(times), times), nil
}
