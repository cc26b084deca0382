package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/bench/loadgen"
	"github.com/heraldrt/herald/bench/target"
)

// PresenceConfig configures RunPresence. The zero value of each field is
// its documented default.
type PresenceConfig struct {
	// Members is how many clients subscribe to the channel with presence,
	// each as a user of its own. Zero means 5,000.
	Members int
	// Churn is how many members leave per second while the churn runs,
	// evenly spaced; each comes back about Away later, on the same
	// connection. A churn event is one leave and its join. Zero means
	// 100.
	Churn float64
	// Away is how long a member stays unsubscribed on average: each
	// leave's time away is drawn uniformly from Away/2 to 3·Away/2, so
	// that the count of members present moves as it does with real users
	// rather than staying fixed. Zero means 1s, longer than the server's
	// default presence_interval, so that a leave and its join usually
	// fall in different diffs; negative means not at all (the subscribe
	// follows the unsubscribe at once, and the server may send nothing
	// for the pair).
	Away time.Duration
	// Duration is the measured window. Zero means 20s.
	Duration time.Duration
	// PresenceInterval is the server's presence_interval, for the
	// report's bound only: it does not set it (the started child is given
	// it as --presence-interval). Zero means 500ms, the server's default.
	PresenceInterval time.Duration
	// Seed picks the members' order of leaving. Zero means 1.
	Seed uint64
}

func (c *PresenceConfig) setDefaults() error {
	if c.Members <= 0 {
		c.Members = 5000
	}
	if c.Churn <= 0 {
		c.Churn = 100
	}
	if c.Away == 0 {
		c.Away = time.Second
	}
	if c.Away < 0 {
		c.Away = 0
	}
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
	}
	if c.PresenceInterval <= 0 {
		c.PresenceInterval = 500 * time.Millisecond
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Members > MaxConnsPerProcess {
		return fmt.Errorf("bench: %d members asked, but one process can hold at most %d connections here (open-files limit 20,000 per process)", c.Members, MaxConnsPerProcess)
	}
	// Members leave in turn: a member's next leave must come well after
	// its join.
	if turn := time.Duration(float64(c.Members) / c.Churn * float64(time.Second)); turn < c.maxAway()+time.Second {
		return fmt.Errorf("bench: %d members churning %v/s leave every %v each, too soon for up to %v away (want at least a second more)", c.Members, c.Churn, turn.Round(time.Millisecond), c.maxAway())
	}
	return nil
}

// maxAway is the longest a member stays away.
func (c *PresenceConfig) maxAway() time.Duration { return c.Away * 3 / 2 }

// presenceSampleEvery spaces the chart's samples: two default presence
// intervals, so that samples aligned with the server's ticks still hold
// about as many ticks each.
const presenceSampleEvery = time.Second

// presenceRun is the state of one RunPresence.
type presenceRun struct {
	env     *Env
	cfg     PresenceConfig
	channel string
	sink    *presenceSink
	clients []*loadgen.Client
	// leaves and joins count the unsubscribes and resubscribes sent to
	// each member; churn goroutine only until it is over.
	leaves, joins []int
}

// RunPresence subscribes cfg.Members clients, each its own user, to one
// channel with presence, and waits until each has seen every member
// arrive. Then it churns: cfg.Churn members a second unsubscribe and,
// about cfg.Away later, subscribe again on the same connection (a leave
// and a join of a user, which is cheaper for both sides than a
// reconnect). The window of cfg.Duration starts once the churn is steady
// (the first leave's member back whatever its time away) and measures the presence frames (presence_state,
// presence_diff) every member receives and their bytes, the churn events,
// and the server's CPU. After the window the members still away come
// back, and the run checks that every member sees the whole channel
// again and that the server answered every unsubscribe and subscribe,
// with a presence_state for each.
//
// With several nodes, members are spread round-robin over them.
func RunPresence(ctx context.Context, env *Env, cfg PresenceConfig) (*PresenceReport, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	run, err := randomID()
	if err != nil {
		return nil, err
	}
	r := &presenceRun{
		env: env, cfg: cfg, channel: "bench.presence." + run,
		sink:   newPresenceSink(cfg.Members),
		leaves: make([]int, cfg.Members), joins: make([]int, cfg.Members),
	}
	rep := &PresenceReport{
		Scenario: "presence", Server: env.serverInfo(), Members: cfg.Members, ChurnTarget: cfg.Churn,
		AwaySeconds: cfg.Away.Seconds(), DurationSeconds: cfg.Duration.Seconds(),
		PresenceIntervalMs: float64(cfg.PresenceInterval) / float64(time.Millisecond),
	}
	defer func() { loadgen.CloseAll(r.clients) }()
	if err := r.connect(ctx, rep); err != nil {
		return rep, err
	}
	if err := r.churn(ctx, rep); err != nil {
		r.countErrors(rep)
		return rep, err
	}
	err = r.settle(ctx, rep)
	r.countErrors(rep)
	if err != nil {
		return rep, err
	}
	switch {
	case rep.ErrorFrames > 0:
		return rep, fmt.Errorf("bench: %d error frames, the last: %s", rep.ErrorFrames, rep.LastError)
	case !rep.WithinBound:
		return rep, fmt.Errorf("bench: %d presence_diff frames in %.1fs, over the %d that one per member per %v allows", rep.DiffFrames, rep.Seconds, rep.DiffBound, cfg.PresenceInterval)
	}
	return rep, nil
}

// connect subscribes every member and waits until each has seen them
// all.
func (r *presenceRun) connect(ctx context.Context, rep *PresenceReport) error {
	n := r.cfg.Members
	tokens := make([]string, n)
	for i := range tokens {
		var err error
		if tokens[i], err = r.env.Token("p"+strconv.Itoa(i), r.channel); err != nil {
			return err
		}
	}
	r.env.prog.Phase("connecting members", int64(n))
	start := time.Now()
	clients, err := r.env.Load.Connect(ctx, n, func(i int) (loadgen.Spec, error) {
		return loadgen.Spec{Token: tokens[i], Channels: []string{r.channel}, Presence: true, URL: r.env.NodeURL(i)}, nil
	}, r.sink, func(k int) {
		if k%100 == 0 || k == n {
			r.env.prog.Set(int64(k))
		}
	})
	r.env.prog.Done()
	if err != nil {
		if gone := r.env.serverGone(); gone != nil {
			err = gone
		}
		return fmt.Errorf("bench: connecting members: %w", err)
	}
	r.clients = clients
	rep.ConnectSeconds = time.Since(start).Seconds()
	if err := r.waitFull(ctx, "members seeing every member arrive", r.settleTimeout()); err != nil {
		return err
	}
	rep.FullSeconds = time.Since(start).Seconds()
	return nil
}

// settleTimeout bounds a wait for presence to catch up.
func (r *presenceRun) settleTimeout() time.Duration {
	return 30*time.Second + 4*r.cfg.PresenceInterval
}

// waitFull waits until every member's last presence frame counts every
// member.
func (r *presenceRun) waitFull(ctx context.Context, name string, timeout time.Duration) error {
	n := r.cfg.Members
	r.env.prog.Phase(name, int64(n))
	defer r.env.prog.Done()
	deadline := time.Now().Add(timeout)
	for {
		full := r.sink.seeing(n)
		r.env.prog.Set(int64(full))
		if full == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: after %v, %d of %d members see %d members present (the others see %v)", timeout, full, n, n, r.sink.countsOtherThan(n, 5))
		}
		if err := r.env.sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// presenceSnap is what the window's measures start and end from.
type presenceSnap struct {
	at                   time.Time
	states, diffs, bytes uint64
	srv, self            target.Sample
	srvErr, selfErr      error
}

func (r *presenceRun) snap() presenceSnap {
	s := presenceSnap{at: time.Now(), states: r.sink.states.Load(), diffs: r.sink.diffs.Load(), bytes: r.sink.bytes.Load()}
	s.srv, s.srvErr = r.env.ServerSample()
	s.self, s.selfErr = selfSample()
	return s
}

// away is a member due back at a time.
type away struct {
	at     time.Time
	member int
}

// churner is the state of the churn loop; churn's goroutine only.
type churner struct {
	start, w0, w1 time.Time
	gap           time.Duration
	order         []int
	rng           *rand.Rand
	k             int    // leaves sent
	queue         []away // members away, by the time they are due
	// first and last are the window's ends once reached; sample the
	// last chart sample, due again at nextSample.
	first, last, sample presenceSnap
	measuring, over     bool
	nextSample          time.Time
	// leaves and joins count those sent in the window, joinsAtSample
	// the joins up to the last chart sample.
	leaves, joins, joinsAtSample int
}

// churn makes cfg.Churn members a second leave, evenly spaced, and come
// back about cfg.Away later, and measures the window: from the longest
// time away after the first leave (once the churn is steady) for
// cfg.Duration. No member leaves after the window; the ones still away
// come back on time, after it.
func (r *presenceRun) churn(ctx context.Context, rep *PresenceReport) error {
	cfg := r.cfg
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	ch := &churner{
		start: time.Now(), gap: time.Duration(float64(time.Second) / cfg.Churn),
		order: rng.Perm(cfg.Members), rng: rng,
	}
	lead := cfg.maxAway()
	ch.w0 = ch.start.Add(lead)
	ch.w1 = ch.w0.Add(cfg.Duration)
	r.env.prog.Phase(fmt.Sprintf("churn %v/s", cfg.Churn), int64((lead+cfg.Duration)/time.Second))
	defer r.env.prog.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		r.window(ch, rep, now)
		if err := r.leaveAndJoin(ch, now); err != nil {
			return err
		}
		r.env.prog.Set(int64(min(now.Sub(ch.start), lead+cfg.Duration) / time.Second))
		if ch.over && len(ch.queue) == 0 {
			break
		}
		// Sleep until the next thing to do.
		var next time.Time
		if !ch.over {
			next = minTime(ch.leaveAt(), ch.w0, ch.w1)
			if ch.measuring {
				next = minTime(ch.leaveAt(), ch.w1, ch.nextSample)
			}
		}
		if len(ch.queue) > 0 {
			next = minTime(next, ch.queue[0].at)
		}
		timer.Reset(time.Until(next))
		select {
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.env.Exited():
			return r.env.serverGone()
		}
	}
	r.measure(rep, ch.first, ch.last, ch.leaves, ch.joins)
	return nil
}

// leaveAt is when the next leave is due.
func (ch *churner) leaveAt() time.Time { return ch.start.Add(time.Duration(ch.k) * ch.gap) }

// window opens and closes the window and takes the chart's samples.
func (r *presenceRun) window(ch *churner, rep *PresenceReport, now time.Time) {
	if !ch.measuring && !now.Before(ch.w0) {
		ch.first, ch.measuring = r.snap(), true
		ch.sample, ch.nextSample = ch.first, ch.first.at.Add(presenceSampleEvery)
	}
	if !ch.measuring || ch.over {
		return
	}
	if !now.Before(ch.w1) {
		ch.last, ch.over = r.snap(), true
		rep.Samples = append(rep.Samples, r.sampleOf(ch.first, ch.sample, ch.last, ch.joins-ch.joinsAtSample))
		return
	}
	if !now.Before(ch.nextSample) {
		s := r.snap()
		rep.Samples = append(rep.Samples, r.sampleOf(ch.first, ch.sample, s, ch.joins-ch.joinsAtSample))
		ch.sample, ch.joinsAtSample = s, ch.joins
		ch.nextSample = ch.nextSample.Add(presenceSampleEvery)
	}
}

// leaveAndJoin sends the leaves due (before the window's end) and the
// joins due.
func (r *presenceRun) leaveAndJoin(ch *churner, now time.Time) error {
	inWindow := ch.measuring && !ch.over
	join := func(m int) error {
		if err := r.clients[m].Resubscribe(0); err != nil {
			return r.lost(m, err)
		}
		r.joins[m]++
		if inWindow {
			ch.joins++
		}
		return nil
	}
	for at := ch.leaveAt(); !ch.over && !at.After(now) && at.Before(ch.w1); at = ch.leaveAt() {
		m := ch.order[ch.k%len(ch.order)]
		ch.k++
		if err := r.clients[m].Unsubscribe(0); err != nil {
			return r.lost(m, err)
		}
		r.leaves[m]++
		if inWindow {
			ch.leaves++
		}
		if r.cfg.Away == 0 {
			if err := join(m); err != nil {
				return err
			}
			continue
		}
		// Uniform over [Away/2, 3·Away/2).
		back := away{at: at.Add(r.cfg.Away/2 + time.Duration(ch.rng.Int64N(int64(r.cfg.Away)))), member: m}
		i, _ := slices.BinarySearchFunc(ch.queue, back, func(a, b away) int { return a.at.Compare(b.at) })
		ch.queue = slices.Insert(ch.queue, i, back)
	}
	for len(ch.queue) > 0 && !ch.queue[0].at.After(now) {
		m := ch.queue[0].member
		ch.queue = ch.queue[1:]
		if err := join(m); err != nil {
			return err
		}
	}
	return nil
}

// lost explains why member m could not be sent a frame.
func (r *presenceRun) lost(m int, err error) error {
	if gone := r.env.serverGone(); gone != nil {
		return gone
	}
	return fmt.Errorf("bench: member %d: %w (close code %d)", m, err, r.clients[m].CloseCode())
}

// minTime returns the earliest of ts, ignoring zero times.
func minTime(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
}

// sampleOf is the chart's point for the frames between two snapshots,
// with the joins sent in between.
func (r *presenceRun) sampleOf(first, from, to presenceSnap, joins int) PresenceSample {
	el := to.at.Sub(from.at).Seconds()
	if el <= 0 {
		el = 1e-9
	}
	frames := (to.states + to.diffs) - (from.states + from.diffs)
	return PresenceSample{
		Seconds:        to.at.Sub(first.at).Seconds(),
		FramesPerSec:   float64(frames) / el,
		ChurnPerSec:    float64(joins) / el,
		NaivePerSecond: float64(joins) * float64(r.cfg.Members) / el,
	}
}

// measure fills the window's figures in rep.
func (r *presenceRun) measure(rep *PresenceReport, first, last presenceSnap, leaves, joins int) {
	el := last.at.Sub(first.at)
	secs := el.Seconds()
	n := float64(r.cfg.Members)
	rep.Seconds = secs
	rep.Leaves, rep.Joins, rep.ChurnEvents = leaves, joins, joins
	rep.StateFrames = last.states - first.states
	rep.DiffFrames = last.diffs - first.diffs
	rep.Frames = rep.StateFrames + rep.DiffFrames
	rep.Bytes = last.bytes - first.bytes
	rep.ChurnPerSec = float64(joins) / secs
	rep.FramesPerMemberPerSec = float64(rep.Frames) / n / secs
	rep.DiffsPerMemberPerSec = float64(rep.DiffFrames) / n / secs
	rep.BytesPerMemberPerSec = float64(rep.Bytes) / n / secs
	if rep.Frames > 0 {
		rep.BytesPerFrame = float64(rep.Bytes) / float64(rep.Frames)
	}
	rep.Naive = uint64(rep.ChurnEvents) * uint64(r.cfg.Members)
	if rep.Frames > 0 {
		rep.NaiveRatio = float64(rep.Naive) / float64(rep.Frames)
	}
	// One diff per member per interval: the ticks in the window, one
	// more for a partial interval and one for a diff of the tick before
	// the window that lands in it.
	rep.DiffBound = uint64(r.cfg.Members) * uint64(el/r.cfg.PresenceInterval+2)
	rep.WithinBound = rep.DiffFrames <= rep.DiffBound
	if first.srvErr == nil && last.srvErr == nil {
		cpu := last.srv.CPU - first.srv.CPU
		rep.ServerCPUPercent = 100 * cpu.Seconds() / secs
		if joins > 0 {
			rep.ServerCPUMicrosPerChurn = float64(cpu.Microseconds()) / float64(joins)
		}
	}
	if first.selfErr == nil && last.selfErr == nil {
		rep.LoadCPUPercent = 100 * (last.self.CPU - first.self.CPU).Seconds() / secs
	}
}

// settle waits, after the churn, until every member sees the whole
// channel again, and checks that the server answered every unsubscribe
// and subscribe, with a presence_state for each subscribe.
func (r *presenceRun) settle(ctx context.Context, rep *PresenceReport) error {
	start := time.Now()
	fullErr := r.waitFull(ctx, "members seeing every member back", r.settleTimeout())
	rep.SettleSeconds = time.Since(start).Seconds()
	for m, c := range r.clients {
		st := c.Subs()[0]
		states := r.sink.perMember[m].Load()
		// A state may also replace a diff when a channel shrinks back
		// under presence_max_members: more are not wrong.
		if st.Unsubscribes != uint64(r.leaves[m]) || st.Subscribes != 1+uint64(r.joins[m]) || states < 1+uint64(r.joins[m]) {
			rep.Unanswered++
		}
		if !c.Ready() {
			rep.Closed++
		}
	}
	switch {
	case rep.Closed > 0:
		return fmt.Errorf("bench: %d members were closed by the server", rep.Closed)
	case rep.Unanswered > 0:
		return fmt.Errorf("bench: %d members lack an unsubscribed, a subscribed or a presence_state for what they sent", rep.Unanswered)
	}
	return fullErr
}

// countErrors adds up the error frames the server sent to the members.
func (r *presenceRun) countErrors(rep *PresenceReport) {
	rep.ErrorFrames, rep.LastError = 0, ""
	for _, c := range r.clients {
		if n, last := c.Errors(); n > 0 {
			rep.ErrorFrames += n
			rep.LastError = last
		}
	}
}

// presenceSink counts the presence frames of every member and keeps the
// count of users each member last heard of.
type presenceSink struct {
	loadgen.NopHandler
	states, diffs, bytes atomic.Uint64
	// count is each member's last heard count of users present;
	// perMember counts its presence_state frames.
	count     []atomic.Int64
	perMember []atomic.Uint64
}

func newPresenceSink(n int) *presenceSink {
	return &presenceSink{count: make([]atomic.Int64, n), perMember: make([]atomic.Uint64, n)}
}

// Presence implements loadgen.PresenceHandler.
func (s *presenceSink) Presence(c *loadgen.Client, p *loadgen.Presence) {
	if p.State {
		s.states.Add(1)
		s.perMember[c.Index].Add(1)
	} else {
		s.diffs.Add(1)
	}
	s.bytes.Add(uint64(p.Size))
	s.count[c.Index].Store(int64(p.Count))
}

// seeing returns how many members last heard of n users present.
func (s *presenceSink) seeing(n int) int {
	k := 0
	for i := range s.count {
		if s.count[i].Load() == int64(n) {
			k++
		}
	}
	return k
}

// countsOtherThan returns up to max of the counts heard other than n, by
// how many members heard them, for an error message.
func (s *presenceSink) countsOtherThan(n, max int) map[int64]int {
	out := map[int64]int{}
	for i := range s.count {
		if v := s.count[i].Load(); v != int64(n) && (len(out) < max || out[v] > 0) {
			out[v]++
		}
	}
	return out
}

var _ loadgen.PresenceHandler = (*presenceSink)(nil)
