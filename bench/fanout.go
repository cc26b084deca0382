package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/bench/loadgen"
	"github.com/heraldrt/herald/bench/report"
)

// FanoutConfig configures RunFanout. The zero value of each field is its
// documented default.
type FanoutConfig struct {
	// Subscribers on the one channel. Zero means 5,000.
	Subscribers int
	// PayloadSize is the payload's size in bytes. Zero means 100.
	PayloadSize int
	// StartRate is the first step's publish rate, in messages/s. Zero
	// means 10.
	StartRate float64
	// RampFactor multiplies the rate from one step to the next. Zero
	// means 1.5.
	RampFactor float64
	// StepDuration is how long each step publishes. Zero means 3s.
	StepDuration time.Duration
	// MaxSteps bounds the ramp. Zero means 20.
	MaxSteps int
	// KeepUp is the share of a step's deliveries that must arrive within
	// LatencyLimit of the step's end for the step to keep up. Zero means
	// 0.99.
	KeepUp float64
	// LatencyLimit ends the ramp when a step's p99 goes past it, or when
	// its deliveries are not in within it. Zero means 1s.
	LatencyLimit time.Duration
	// SteadyFraction of the saturation rate is the steady run's rate.
	// Zero means 0.5.
	SteadyFraction float64
	// SteadyDuration is how long the steady run publishes. Zero means
	// 10s.
	SteadyDuration time.Duration
	// DrainTimeout bounds the wait for in-flight messages after the ramp
	// and after the steady run. Zero means 30s.
	DrainTimeout time.Duration
}

func (c *FanoutConfig) setDefaults() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	deff := func(f *float64, v float64) {
		if *f <= 0 {
			*f = v
		}
	}
	if c.Subscribers <= 0 {
		c.Subscribers = 5000
	}
	if c.Subscribers+1 > MaxConnsPerProcess {
		return fmt.Errorf("bench: %d subscribers asked, but one process can hold at most %d connections here (open-files limit 20,000 per process)", c.Subscribers, MaxConnsPerProcess-1)
	}
	if c.PayloadSize <= 0 {
		c.PayloadSize = 100
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = 20
	}
	deff(&c.StartRate, 10)
	deff(&c.RampFactor, 1.5)
	deff(&c.KeepUp, 0.99)
	deff(&c.SteadyFraction, 0.5)
	def(&c.StepDuration, 3*time.Second)
	def(&c.LatencyLimit, time.Second)
	def(&c.SteadyDuration, 10*time.Second)
	def(&c.DrainTimeout, 30*time.Second)
	if c.RampFactor <= 1 {
		return fmt.Errorf("bench: ramp factor %v must be above 1", c.RampFactor)
	}
	return nil
}

// phase collects what one ramp step or the steady run received. Messages
// say which phase published them (the step in the stamp payload), so
// late arrivals are still counted where they belong.
type phase struct {
	delivered atomic.Uint64
	latency   report.Histogram // publish → deliver, ns
	ack       report.Histogram // publish → ack, ns
}

// fanoutRun is the state of one RunFanout.
type fanoutRun struct {
	env     *Env
	cfg     FanoutConfig
	channel string
	phases  []*phase // MaxSteps ramp steps, then the steady run
	sink    *fanoutSink
	pub     *publisher
	subs    []*loadgen.Client
}

// RunFanout subscribes cfg.Subscribers clients to one channel and ramps a
// publisher's rate until deliveries stop keeping up; then it publishes at
// a fraction of the saturation rate and measures publish→deliver latency.
// Every subscriber checks its seqs, so lost and duplicated messages are
// counted.
func RunFanout(ctx context.Context, env *Env, cfg FanoutConfig) (*FanoutReport, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	run, err := randomID()
	if err != nil {
		return nil, err
	}
	r := &fanoutRun{env: env, cfg: cfg, channel: "bench.fanout." + run}
	r.phases = make([]*phase, cfg.MaxSteps+1)
	for i := range r.phases {
		r.phases[i] = &phase{}
	}
	r.sink = &fanoutSink{phases: r.phases, closes: map[int]int{}}
	r.pub = &publisher{run: run, channel: r.channel, size: cfg.PayloadSize, phases: r.phases}
	rep := &FanoutReport{
		Scenario: "fanout", Server: env.serverInfo(), Subscribers: cfg.Subscribers,
		PayloadBytes: cfg.PayloadSize, StepSeconds: cfg.StepDuration.Seconds(), RampFactor: cfg.RampFactor,
	}
	defer func() {
		loadgen.CloseAll(r.subs)
		if r.pub.c != nil {
			r.pub.c.Close()
		}
	}()

	idx := make([]int, cfg.Subscribers)
	for i := range idx {
		idx[i] = i
	}
	r.subs = make([]*loadgen.Client, cfg.Subscribers)
	if err := r.connect(ctx, idx); err != nil {
		return nil, err
	}
	tok, err := env.Token("publisher", r.channel)
	if err != nil {
		return nil, err
	}
	pubs, err := env.Load.Connect(ctx, 1, func(int) (loadgen.Spec, error) { return loadgen.Spec{Token: tok}, nil }, r.pub, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: publisher: %w", err)
	}
	r.pub.c = pubs[0]

	if err := r.ramp(ctx, rep); err != nil {
		return rep, err
	}
	if err := r.steady(ctx, rep); err != nil {
		return rep, err
	}
	if n := r.sink.arrivals.Load(); n > 0 {
		rep.FrameBytes = float64(r.sink.bytes.Load()) / float64(n)
	}
	rep.Lost = rep.Ramp.Lost + rep.SteadyIntegrity.Lost
	rep.Duplicated = rep.Ramp.Duplicated + rep.SteadyIntegrity.Duplicated
	if rep.Lost > 0 || rep.Duplicated > 0 {
		return rep, fmt.Errorf("bench: %d messages lost and %d duplicated", rep.Lost, rep.Duplicated)
	}
	if rep.SteadyIntegrity.Closed > 0 {
		return rep, fmt.Errorf("bench: %d subscribers were closed by the server at half load (%v)", rep.SteadyIntegrity.Closed, rep.SteadyIntegrity.CloseCodes)
	}
	return rep, nil
}

// connect connects the subscribers numbered idx into r.subs.
func (r *fanoutRun) connect(ctx context.Context, idx []int) error {
	r.env.prog.Phase("connecting subscribers", int64(len(idx)))
	defer r.env.prog.Done()
	clients, err := r.env.Load.Connect(ctx, len(idx), func(i int) (loadgen.Spec, error) {
		tok, err := r.env.Token("s"+strconv.Itoa(idx[i]), r.channel)
		return loadgen.Spec{Token: tok, Channels: []string{r.channel}}, err
	}, r.sink, func(n int) {
		if n%100 == 0 || n == len(idx) {
			r.env.prog.Set(int64(n))
		}
	})
	if err != nil {
		return err
	}
	for i, c := range clients {
		r.subs[idx[i]] = c
	}
	return nil
}

// ramp publishes at growing rates until a step does not keep up.
func (r *fanoutRun) ramp(ctx context.Context, rep *FanoutReport) error {
	cfg := r.cfg
	r.env.prog.Phase("ramp", int64(cfg.MaxSteps))
	defer r.env.prog.Done()
	before := r.snapshot()
	for i := 0; i < cfg.MaxSteps; i++ {
		rate := cfg.StartRate * math.Pow(cfg.RampFactor, float64(i))
		r.env.prog.Describe(fmt.Sprintf("ramp %.0f msg/s", rate))
		st, err := r.measure(ctx, i, rate, cfg.StepDuration)
		if err != nil {
			return err
		}
		st.Index = i
		st.TargetRate = rate
		share, err := r.settle(ctx, i, &st)
		if err != nil {
			return err
		}
		st.KeptUp, st.Reason = r.judge(i, &st, share)
		rep.Steps = append(rep.Steps, st)
		r.env.prog.Set(int64(i + 1))
		if !st.KeptUp {
			break
		}
	}
	drained, err := r.drain(ctx)
	if err != nil {
		return err
	}
	// Late arrivals have been counted now: summarize each step afresh.
	for i := range rep.Steps {
		p := r.phases[i]
		rep.Steps[i].Latency = report.Summarize(&p.latency)
		rep.Steps[i].AckLatency = report.Summarize(&p.ack)
	}
	rep.Ramp = r.integrity(before, r.snapshot(), drained, false)

	sat := &rep.Saturation
	for _, s := range rep.Steps {
		if s.DeliveredPerSec > sat.DeliveredPerSec {
			sat.DeliveredPerSec, sat.Step, sat.PublishRate = s.DeliveredPerSec, s.Index, s.PublishRate
		}
	}
	last := rep.Steps[len(rep.Steps)-1]
	sat.Reached = !last.KeptUp
	sat.Reason = last.Reason
	if !sat.Reached {
		sat.Reason = fmt.Sprintf("still keeping up after %d steps: raise --max-steps or --start-rate", len(rep.Steps))
	}
	return nil
}

// settle waits, with publishing paused, until every delivery of step i
// has arrived or LatencyLimit has passed since the step ended, and
// returns the share that arrived. A server that keeps up delivers a step
// within milliseconds; one that does not leaves a backlog the short pause
// cannot clear.
func (r *fanoutRun) settle(ctx context.Context, i int, st *FanoutStep) (float64, error) {
	want := float64(st.Published) * float64(r.connected())
	deadline := time.Now().Add(r.cfg.LatencyLimit)
	for {
		got := float64(r.phases[i].delivered.Load())
		if got >= want || time.Now().After(deadline) {
			if want == 0 {
				return 1, nil
			}
			return got / want, nil
		}
		if err := r.env.sleep(ctx, 5*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// explodeFactor is how many times the first step's p99 a step's p99 may
// reach before its latency counts as exploding.
const explodeFactor = 4

// judge decides whether step i kept up, and if not, why.
func (r *fanoutRun) judge(i int, st *FanoutStep, share float64) (bool, string) {
	p99 := time.Duration(r.phases[i].latency.Quantile(0.99))
	first := time.Duration(r.phases[0].latency.Quantile(0.99))
	switch {
	case st.Closed > 0:
		return false, fmt.Sprintf("%d subscribers closed by the server (%s)", st.Closed, st.CloseCodes)
	case share < r.cfg.KeepUp:
		return false, fmt.Sprintf("only %.0f%% delivered within %v (%.0f/s delivered, %.0f/s expected)", 100*share, r.cfg.LatencyLimit, st.DeliveredPerSec, st.ExpectedPerSec)
	case p99 > r.cfg.LatencyLimit:
		return false, fmt.Sprintf("p99 latency %v over the %v limit", p99.Round(time.Millisecond), r.cfg.LatencyLimit)
	case i > 0 && p99 > explodeFactor*first && st.DeliveredPerSec < 0.95*st.ExpectedPerSec:
		// Queues building up: latency explodes and the window's
		// deliveries fall behind, though the backlog still clears
		// within the limit once publishing pauses.
		return false, fmt.Sprintf("p99 latency %v, over %d× the first step's, and %.0f/s delivered of %.0f/s", p99.Round(time.Millisecond), explodeFactor, st.DeliveredPerSec, st.ExpectedPerSec)
	}
	return true, ""
}

// steady publishes at a fraction of the saturation rate and checks that
// every subscriber got every message once.
func (r *fanoutRun) steady(ctx context.Context, rep *FanoutReport) error {
	cfg := r.cfg
	// Bring back subscribers the ramp's overload got closed.
	var gone []int
	for i, c := range r.subs {
		if !c.Ready() {
			gone = append(gone, i)
		}
	}
	if len(gone) > 0 {
		if err := r.connect(ctx, gone); err != nil {
			return fmt.Errorf("bench: reconnect after the ramp: %w", err)
		}
	}
	subs := r.connected()
	rate := cfg.SteadyFraction * rep.Saturation.DeliveredPerSec / float64(subs)
	if rate <= 0 || math.IsNaN(rate) {
		return errors.New("bench: no saturation rate to take a fraction of")
	}
	steady := len(r.phases) - 1
	r.env.prog.Phase(fmt.Sprintf("steady %.1f msg/s", rate), int64(cfg.SteadyDuration/time.Second))
	stop := r.tick(cfg.SteadyDuration)
	before := r.snapshot()
	st, err := r.measure(ctx, steady, rate, cfg.SteadyDuration)
	stop()
	r.env.prog.Done()
	if err != nil {
		return err
	}
	drained, err := r.drain(ctx)
	if err != nil {
		return err
	}
	p := r.phases[steady]
	rep.Steady = SteadyRun{
		Fraction: cfg.SteadyFraction, TargetRate: rate, PublishRate: st.PublishRate,
		Seconds: st.Seconds, DeliveredPerSec: st.DeliveredPerSec, ExpectedPerSec: st.ExpectedPerSec,
		ServerCPUPercent: st.ServerCPUPercent, ServerCPUMicrosPerDelivery: st.ServerCPUMicrosPerDelivery,
		LoadCPUPercent: st.LoadCPUPercent,
		Latency:        report.Summarize(&p.latency), AckLatency: report.Summarize(&p.ack),
	}
	rep.SteadyIntegrity = r.integrity(before, r.snapshot(), drained, true)
	return nil
}

// measure publishes at rate for d as phase ph and measures deliveries and
// CPU over that window.
func (r *fanoutRun) measure(ctx context.Context, ph int, rate float64, d time.Duration) (FanoutStep, error) {
	var st FanoutStep
	closed0 := r.sink.closeCount()
	arr0 := r.sink.arrivals.Load()
	srv0, srvErr := r.env.ServerSample()
	self0, selfErr := selfSample()
	t0 := time.Now()
	sent, err := r.publishFor(ctx, ph, rate, d)
	if err != nil {
		return st, err
	}
	el := time.Since(t0)
	arr := r.sink.arrivals.Load() - arr0
	srv1, srvErr1 := r.env.ServerSample()
	self1, selfErr1 := selfSample()
	subs := r.connected()

	st.Seconds = el.Seconds()
	st.Published = sent
	st.PublishRate = float64(sent) / el.Seconds()
	st.ExpectedPerSec = st.PublishRate * float64(subs)
	st.DeliveredPerSec = float64(arr) / el.Seconds()
	st.Closed, st.CloseCodes = r.sink.closedSince(closed0)
	if srvErr == nil && srvErr1 == nil {
		cpu := srv1.CPU - srv0.CPU
		st.ServerCPUPercent = 100 * cpu.Seconds() / el.Seconds()
		if arr > 0 {
			st.ServerCPUMicrosPerDelivery = float64(cpu.Microseconds()) / float64(arr)
		}
	}
	if selfErr == nil && selfErr1 == nil {
		st.LoadCPUPercent = 100 * (self1.CPU - self0.CPU).Seconds() / el.Seconds()
	}
	return st, nil
}

// publishFor publishes at rate for d, spacing the publishes evenly, and
// returns how many it sent.
func (r *fanoutRun) publishFor(ctx context.Context, ph int, rate float64, d time.Duration) (int, error) {
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sent := 0
	for {
		el := time.Since(start)
		if el >= d {
			return sent, nil
		}
		for due := int(el.Seconds()*rate) + 1; sent < due; sent++ {
			if err := r.pub.publish(ph); err != nil {
				return sent, fmt.Errorf("bench: publish: %w", err)
			}
		}
		next := min(time.Duration(float64(sent)/rate*float64(time.Second)), d)
		timer.Reset(next - time.Since(start))
		select {
		case <-timer.C:
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-r.env.Server.Exited():
			return sent, r.env.serverGone()
		case <-r.pub.c.Done():
			return sent, fmt.Errorf("bench: the publisher's connection was closed (code %d)", r.pub.c.CloseCode())
		}
	}
}

// drain waits until every publish is acked and every connected
// subscriber has the last acked seq, or until nothing has arrived for 3s,
// or DrainTimeout. It reports whether everything arrived.
func (r *fanoutRun) drain(ctx context.Context) (bool, error) {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	lastArr, lastMove := r.sink.arrivals.Load(), time.Now()
	for {
		if r.pub.allAcked() && r.behind(r.pub.head()) == 0 {
			return true, nil
		}
		if a := r.sink.arrivals.Load(); a != lastArr {
			lastArr, lastMove = a, time.Now()
		}
		if time.Now().After(deadline) || time.Since(lastMove) > 3*time.Second {
			return false, nil
		}
		if err := r.env.sleep(ctx, 20*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// behind returns how many connected subscribers have not reached head.
func (r *fanoutRun) behind(head uint64) int {
	n := 0
	for _, c := range r.subs {
		if c.Ready() && c.Subs()[0].Last < head {
			n++
		}
	}
	return n
}

func (r *fanoutRun) connected() int {
	n := 0
	for _, c := range r.subs {
		if c.Ready() {
			n++
		}
	}
	return n
}

// subSnap is one subscriber's seq accounting at a moment.
type subSnap struct {
	client *loadgen.Client
	loadgen.SubStats
}

func (r *fanoutRun) snapshot() []subSnap {
	out := make([]subSnap, len(r.subs))
	for i, c := range r.subs {
		out[i] = subSnap{client: c, SubStats: c.Subs()[0]}
	}
	return out
}

// integrity compares two snapshots. Gaps and duplicates seen in between
// are lost and duplicated messages. With tail set, a connected
// subscriber short of the last acked seq after the drain has lost the
// rest too; otherwise (after an overloaded ramp) that shortfall is
// reported as undelivered.
func (r *fanoutRun) integrity(before, after []subSnap, drained, tail bool) Integrity {
	head := r.pub.head()
	in := Integrity{Drained: drained, CloseCodes: map[string]int{}}
	for i, a := range after {
		b := before[i]
		if b.client != a.client {
			// Reconnected in between: it started from a fresh head.
			b.SubStats = loadgen.SubStats{}
		}
		in.Lost += a.Lost - b.Lost
		in.Duplicated += a.Duplicated - b.Duplicated
		in.Received += a.Messages - b.Messages
		if !a.client.Ready() {
			in.Closed++
			in.CloseCodes[strconv.Itoa(a.client.CloseCode())]++
			continue
		}
		if a.Last < head {
			if tail {
				in.Lost += head - a.Last
			} else {
				in.Undelivered += head - a.Last
			}
		}
	}
	return in
}

// tick advances the progress bar once a second for d; the returned
// function stops it.
func (r *fanoutRun) tick(d time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.env.prog.Set(int64(min(time.Since(start), d) / time.Second))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// fanoutSink receives the subscribers' messages.
type fanoutSink struct {
	loadgen.NopHandler
	phases   []*phase
	arrivals atomic.Uint64
	bytes    atomic.Uint64 // of the message frames
	// foreign counts messages whose payload is not a stamp of this run.
	foreign atomic.Uint64

	mu     sync.Mutex
	closes map[int]int // by close code; guarded by mu
	closed int         // guarded by mu
}

func (s *fanoutSink) Message(_ *loadgen.Client, m *loadgen.Message) {
	now := time.Now().UnixNano()
	s.arrivals.Add(1)
	s.bytes.Add(uint64(m.Size))
	t, ph, ok := loadgen.ParseStamp(m.Payload)
	if !ok || ph < 0 || ph >= len(s.phases) {
		s.foreign.Add(1)
		return
	}
	p := s.phases[ph]
	p.delivered.Add(1)
	p.latency.Record(now - t)
}

func (s *fanoutSink) Closed(_ *loadgen.Client, code int) {
	s.mu.Lock()
	s.closes[code]++
	s.closed++
	s.mu.Unlock()
}

func (s *fanoutSink) closeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// closedSince returns how many closes happened after the count was n,
// and all close codes so far, for the report.
func (s *fanoutSink) closedSince(n int) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == n {
		return 0, ""
	}
	return s.closed - n, fmt.Sprint(s.closes)
}

// publisher sends stamped publishes and times their acks.
type publisher struct {
	loadgen.NopHandler
	c       *loadgen.Client
	run     string
	channel string
	size    int
	phases  []*phase

	buf   []byte // publishing goroutine only
	mu    sync.Mutex
	sent  []pubRecord // by publish number; guarded by mu
	acked atomic.Uint64
	last  atomic.Uint64 // highest acked seq
}

type pubRecord struct {
	at    int64 // unix ns
	phase int
}

func (p *publisher) publish(ph int) error {
	now := time.Now().UnixNano()
	p.mu.Lock()
	n := len(p.sent)
	p.sent = append(p.sent, pubRecord{at: now, phase: ph})
	p.mu.Unlock()
	p.buf = loadgen.AppendStamp(p.buf[:0], now, ph, p.size)
	return p.c.Publish(p.run+"-"+strconv.Itoa(n), p.channel, "bench", p.buf)
}

// Ack implements loadgen.Handler.
func (p *publisher) Ack(_ *loadgen.Client, id []byte, seq uint64) {
	now := time.Now().UnixNano()
	i := bytes.LastIndexByte(id, '-')
	n, err := strconv.Atoi(string(id[i+1:]))
	if err != nil {
		return
	}
	p.mu.Lock()
	var rec pubRecord
	ok := n >= 0 && n < len(p.sent)
	if ok {
		rec = p.sent[n]
	}
	p.mu.Unlock()
	if ok {
		p.phases[rec.phase].ack.Record(now - rec.at)
	}
	p.acked.Add(1)
	for {
		l := p.last.Load()
		if seq <= l || p.last.CompareAndSwap(l, seq) {
			break
		}
	}
}

func (p *publisher) allAcked() bool {
	p.mu.Lock()
	n := len(p.sent)
	p.mu.Unlock()
	return p.acked.Load() >= uint64(n)
}

// head is the highest seq acked so far: the channel's head once every
// publish is acked.
func (p *publisher) head() uint64 { return p.last.Load() }

func randomID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("bench: run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
