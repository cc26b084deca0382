package bench

import (
	"context"
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

// RampConfig is how the fanout and chat scenarios load the server: a
// ramp of publish rates until deliveries stop keeping up, then a steady
// run at a fraction of the saturation rate, where latency is measured.
// The zero value of each field is its documented default.
type RampConfig struct {
	// PayloadSize is the payload's size in bytes. Zero means 100.
	PayloadSize int
	// StartRate is the first step's publish rate, in messages/s (all
	// publishers together). Zero means the scenario's default.
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
	// Rate, when above zero, skips the ramp: the steady run publishes at
	// this many messages/s. Zero ramps.
	Rate float64
	// DrainTimeout bounds the wait for in-flight messages after the ramp
	// and after the steady run. Zero means 30s.
	DrainTimeout time.Duration
}

func (c *RampConfig) setDefaults(startRate float64) error {
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
	if c.PayloadSize <= 0 {
		c.PayloadSize = 100
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = 20
	}
	deff(&c.StartRate, startRate)
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
	// expected is how many deliveries the phase's publishes owe: each
	// publish times the subscribers of its channel that were connected
	// when the phase ended. Run goroutine only.
	expected uint64
}

// pubSlot is one publisher: a subscriber that also publishes on its own
// channel (chat), or a client of its own (fanout).
type pubSlot struct {
	sub int             // index in rampRun.subs, or -1
	c   *loadgen.Client // when sub is -1
	ch  int             // channel index
}

// rampRun is the machinery fanout and chat share: subscribers with one
// channel each, publishers sending stamped publishes, a ramp, a steady
// run, drains and the seq accounting of every subscriber.
type rampRun struct {
	env      *Env
	cfg      RampConfig
	channels []string
	phases   []*phase // MaxSteps ramp steps, then the steady run
	sink     *sink
	pub      *publisher

	subs    []*loadgen.Client
	subChan []int // channel index of each subscriber
	// subSpec and subHandler connect subscriber i (again).
	subSpec    func(i int) (loadgen.Spec, error)
	subHandler loadgen.Handler
	subsName   string // "subscribers", "members": for progress

	pubs []pubSlot
	// pubRequired says that a publisher's end ends the run (fanout);
	// otherwise a closed publisher is skipped (chat).
	pubRequired bool
	// Publishing goroutine only:
	next   int   // next publisher
	counts []int // publishes per channel in the current window
}

func newRampRun(env *Env, cfg RampConfig, run string, channels []string) *rampRun {
	r := &rampRun{env: env, cfg: cfg, channels: channels, counts: make([]int, len(channels))}
	r.phases = make([]*phase, cfg.MaxSteps+1)
	for i := range r.phases {
		r.phases[i] = &phase{}
	}
	r.sink = &sink{phases: r.phases, closes: map[int]int{}}
	r.pub = &publisher{run: run, size: cfg.PayloadSize, phases: r.phases, heads: make([]atomic.Uint64, len(channels))}
	return r
}

// close cuts every connection of the run.
func (r *rampRun) close() {
	loadgen.CloseAll(r.subs)
	for _, p := range r.pubs {
		if p.c != nil {
			p.c.Abort()
		}
	}
}

// connect connects the subscribers numbered idx into r.subs.
func (r *rampRun) connect(ctx context.Context, idx []int) error {
	r.env.prog.Phase("connecting "+r.subsName, int64(len(idx)))
	defer r.env.prog.Done()
	clients, err := r.env.Load.Connect(ctx, len(idx), func(i int) (loadgen.Spec, error) {
		return r.subSpec(idx[i])
	}, r.subHandler, func(n int) {
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

// connectAll connects every subscriber.
func (r *rampRun) connectAll(ctx context.Context) error {
	idx := make([]int, len(r.subs))
	for i := range idx {
		idx[i] = i
	}
	return r.connect(ctx, idx)
}

// rampAndSteady runs the ramp (unless cfg.Rate fixes the rate) and the
// steady run into res, and checks that nothing was lost or duplicated.
func (r *rampRun) rampAndSteady(ctx context.Context, res *RampResult) error {
	res.StepSeconds, res.RampFactor = r.cfg.StepDuration.Seconds(), r.cfg.RampFactor
	defer r.countErrors(res)
	rate := r.cfg.Rate
	if rate <= 0 {
		if err := r.ramp(ctx, res); err != nil {
			return err
		}
		rate = r.cfg.SteadyFraction * res.Saturation.DeliveredPerSec / r.deliveriesPerPublish()
		if rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
			return errors.New("bench: no saturation rate to take a fraction of")
		}
		res.Steady.Fraction = r.cfg.SteadyFraction
	} else {
		res.Saturation.Reason = fmt.Sprintf("no ramp: fixed rate of %v msg/s", rate)
	}
	if err := r.steady(ctx, res, rate); err != nil {
		return err
	}
	if n := r.sink.arrivals.Load(); n > 0 {
		res.FrameBytes = float64(r.sink.bytes.Load()) / float64(n)
	}
	res.Lost = res.RampIntegrity.Lost + res.SteadyIntegrity.Lost
	res.Duplicated = res.RampIntegrity.Duplicated + res.SteadyIntegrity.Duplicated
	if res.Lost > 0 || res.Duplicated > 0 {
		return fmt.Errorf("bench: %d messages lost and %d duplicated", res.Lost, res.Duplicated)
	}
	if res.SteadyIntegrity.Closed > 0 {
		return fmt.Errorf("bench: %d %s were closed by the server in the steady run (%v)", res.SteadyIntegrity.Closed, r.subsName, res.SteadyIntegrity.CloseCodes)
	}
	return nil
}

// countErrors adds up the error frames the server sent to ready clients.
func (r *rampRun) countErrors(res *RampResult) {
	add := func(c *loadgen.Client) {
		if c == nil {
			return
		}
		if n, last := c.Errors(); n > 0 {
			res.ErrorFrames += n
			res.LastError = last
		}
	}
	for _, c := range r.subs {
		add(c)
	}
	for _, p := range r.pubs {
		add(p.c)
	}
}

// ramp publishes at growing rates until a step does not keep up.
func (r *rampRun) ramp(ctx context.Context, res *RampResult) error {
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
		share, err := r.settle(ctx, i)
		if err != nil {
			return err
		}
		st.KeptUp, st.Reason = r.judge(i, &st, share)
		res.Steps = append(res.Steps, st)
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
	for i := range res.Steps {
		p := r.phases[i]
		res.Steps[i].Latency = report.Summarize(&p.latency)
		res.Steps[i].AckLatency = report.Summarize(&p.ack)
	}
	res.RampIntegrity = r.integrity(before, r.snapshot(), drained, false)

	sat := &res.Saturation
	for _, s := range res.Steps {
		if s.DeliveredPerSec > sat.DeliveredPerSec {
			sat.DeliveredPerSec, sat.Step, sat.PublishRate = s.DeliveredPerSec, s.Index, s.PublishRate
		}
	}
	last := res.Steps[len(res.Steps)-1]
	sat.Reached = !last.KeptUp
	sat.Reason = last.Reason
	if !sat.Reached {
		sat.Reason = fmt.Sprintf("still keeping up after %d steps: raise --max-steps or --start-rate", len(res.Steps))
	}
	return nil
}

// settle waits, with publishing paused, until every delivery of step i
// has arrived or LatencyLimit has passed since the step ended, and
// returns the share that arrived. A server that keeps up delivers a step
// within milliseconds; one that does not leaves a backlog the short pause
// cannot clear.
func (r *rampRun) settle(ctx context.Context, i int) (float64, error) {
	want := float64(r.phases[i].expected)
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
func (r *rampRun) judge(i int, st *RampStep, share float64) (bool, string) {
	p99 := time.Duration(r.phases[i].latency.Quantile(0.99))
	first := time.Duration(r.phases[0].latency.Quantile(0.99))
	switch {
	case st.Closed > 0:
		return false, fmt.Sprintf("%d %s closed by the server (%s)", st.Closed, r.subsName, st.CloseCodes)
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

// steady publishes at rate and checks that every subscriber got every
// message once.
func (r *rampRun) steady(ctx context.Context, res *RampResult, rate float64) error {
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
	res.Steady = SteadyRun{
		Fraction: res.Steady.Fraction, TargetRate: rate, PublishRate: st.PublishRate,
		Seconds: st.Seconds, DeliveredPerSec: st.DeliveredPerSec, ExpectedPerSec: st.ExpectedPerSec,
		ServerCPUPercent: st.ServerCPUPercent, ServerCPUMicrosPerDelivery: st.ServerCPUMicrosPerDelivery,
		LoadCPUPercent: st.LoadCPUPercent,
		Latency:        report.Summarize(&p.latency), AckLatency: report.Summarize(&p.ack),
	}
	res.SteadyIntegrity = r.integrity(before, r.snapshot(), drained, true)
	return nil
}

// measure publishes at rate for d as phase ph and measures deliveries and
// CPU over that window.
func (r *rampRun) measure(ctx context.Context, ph int, rate float64, d time.Duration) (RampStep, error) {
	var st RampStep
	closed0 := r.sink.closeCount()
	arr0 := r.sink.arrivals.Load()
	srv0, srvErr := r.env.ServerSample()
	self0, selfErr := selfSample()
	clear(r.counts)
	t0 := time.Now()
	sent, err := r.publishFor(ctx, ph, rate, d)
	if err != nil {
		return st, err
	}
	el := time.Since(t0)
	arr := r.sink.arrivals.Load() - arr0
	srv1, srvErr1 := r.env.ServerSample()
	self1, selfErr1 := selfSample()
	ready := r.readyPerChannel()
	var expected uint64
	for ch, n := range r.counts {
		expected += uint64(n) * uint64(ready[ch])
	}
	r.phases[ph].expected = expected

	st.Seconds = el.Seconds()
	st.Published = sent
	st.PublishRate = float64(sent) / el.Seconds()
	st.ExpectedPerSec = float64(expected) / el.Seconds()
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
func (r *rampRun) publishFor(ctx context.Context, ph int, rate float64, d time.Duration) (int, error) {
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
			if err := r.publishNext(ph); err != nil {
				return sent, err
			}
		}
		next := min(time.Duration(float64(sent)/rate*float64(time.Second)), d)
		timer.Reset(next - time.Since(start))
		select {
		case <-timer.C:
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-r.env.Exited():
			return sent, r.env.serverGone()
		}
	}
}

// publishNext publishes once from the next publisher that is connected.
func (r *rampRun) publishNext(ph int) error {
	for range r.pubs {
		k := r.next
		r.next = (r.next + 1) % len(r.pubs)
		slot := r.pubs[k]
		c := slot.c
		if slot.sub >= 0 {
			c = r.subs[slot.sub]
		}
		if !c.Ready() {
			if r.pubRequired {
				return fmt.Errorf("bench: a publisher's connection was closed (code %d)", c.CloseCode())
			}
			continue
		}
		if err := r.pub.publish(c, slot.ch, r.channels[slot.ch], ph); err != nil {
			if r.pubRequired || c.Ready() {
				return fmt.Errorf("bench: publish: %w", err)
			}
			continue // closed meanwhile
		}
		r.counts[slot.ch]++
		return nil
	}
	return errors.New("bench: no publisher is connected")
}

// deliveriesPerPublish is how many deliveries one publish owes on
// average, publishers taking turns: the mean, over connected publishers,
// of their channel's connected subscribers.
func (r *rampRun) deliveriesPerPublish() float64 {
	ready := r.readyPerChannel()
	var sum, n float64
	for _, p := range r.pubs {
		c := p.c
		if p.sub >= 0 {
			c = r.subs[p.sub]
		}
		if c.Ready() {
			sum += float64(ready[p.ch])
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// drain waits until every publish is acked and every connected
// subscriber has its channel's last acked seq, or until nothing has
// arrived for 3s, or DrainTimeout. It reports whether everything arrived.
func (r *rampRun) drain(ctx context.Context) (bool, error) {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	lastArr, lastMove := r.sink.arrivals.Load(), time.Now()
	for {
		if r.pub.allAcked() && r.behind() == 0 {
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

// behind returns how many connected subscribers have not reached their
// channel's head.
func (r *rampRun) behind() int {
	n := 0
	for i, c := range r.subs {
		if c.Ready() && c.Subs()[0].Last < r.pub.head(r.subChan[i]) {
			n++
		}
	}
	return n
}

// readyPerChannel counts the connected subscribers of each channel.
func (r *rampRun) readyPerChannel() []int {
	n := make([]int, len(r.channels))
	for i, c := range r.subs {
		if c.Ready() {
			n[r.subChan[i]]++
		}
	}
	return n
}

// subSnap is one subscriber's seq accounting at a moment.
type subSnap struct {
	client *loadgen.Client
	loadgen.SubStats
}

func (r *rampRun) snapshot() []subSnap {
	out := make([]subSnap, len(r.subs))
	for i, c := range r.subs {
		out[i] = subSnap{client: c, SubStats: c.Subs()[0]}
	}
	return out
}

// integrity compares two snapshots. Gaps and duplicates seen in between
// are lost and duplicated messages. With tail set, a connected
// subscriber short of its channel's last acked seq after the drain has
// lost the rest too; otherwise (after an overloaded ramp) that shortfall
// is reported as undelivered.
func (r *rampRun) integrity(before, after []subSnap, drained, tail bool) Integrity {
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
		if head := r.pub.head(r.subChan[i]); a.Last < head {
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
func (r *rampRun) tick(d time.Duration) (stop func()) {
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
