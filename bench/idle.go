package bench

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/bench/loadgen"
	"github.com/heraldrt/herald/bench/target"
)

// IdleConfig configures RunIdle. The zero value of each field is its
// documented default.
type IdleConfig struct {
	// Conns is how many connections to open. Zero means 15,000; more than
	// MaxConnsPerProcess is refused.
	Conns int
	// Idle is how long the connections stay idle while the server is
	// watched. Zero means 30s, which spans one server heartbeat (25s).
	Idle time.Duration
	// Settle is how long the server is left alone before each memory
	// reading phase. Zero means 3s.
	Settle time.Duration
	// Samples is how many memory readings are taken before connecting,
	// 500ms apart. Zero means 5.
	Samples int
}

func (c *IdleConfig) setDefaults() error {
	if c.Conns <= 0 {
		c.Conns = 15000
	}
	if c.Conns > MaxConnsPerProcess {
		return fmt.Errorf("bench: %d connections asked, but one server process can hold at most %d here (the open-files limit is 20,000 per process and cannot be raised); run several nodes for more", c.Conns, MaxConnsPerProcess)
	}
	if c.Idle <= 0 {
		c.Idle = 30 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
	if c.Samples <= 0 {
		c.Samples = 5
	}
	return nil
}

// idleSink counts connections that end while they should be idle.
type idleSink struct {
	loadgen.NopHandler
	closed   atomic.Int64
	messages atomic.Int64
}

func (s *idleSink) Closed(*loadgen.Client, int)               { s.closed.Add(1) }
func (s *idleSink) Message(*loadgen.Client, *loadgen.Message) { s.messages.Add(1) }

// RunIdle opens cfg.Conns connections, each authenticated as its own user
// and subscribed to its own channel user.<i>, leaves them idle, and
// reports the server's memory growth per connection and its CPU use while
// idle.
func RunIdle(ctx context.Context, env *Env, cfg IdleConfig) (*IdleReport, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if env.Server.PID == 0 {
		return nil, fmt.Errorf("bench: idle measures the server process: give --server-pid with --server-url")
	}
	r := &IdleReport{Scenario: "idle", Server: env.serverInfo(), Conns: cfg.Conns, TargetBytesPerConn: IdleTargetBytesPerConn}

	// Memory before: let the server settle, then keep the lowest reading.
	env.prog.Phase("settling", int64(cfg.Samples))
	if err := env.sleep(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	before := int64(math.MaxInt64)
	for i := 0; i < cfg.Samples; i++ {
		s, err := env.ServerSample()
		if err != nil {
			return nil, err
		}
		before = min(before, s.RSS)
		env.prog.Set(int64(i + 1))
		if i+1 < cfg.Samples {
			if err := env.sleep(ctx, 500*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	env.prog.Done()
	r.RSSBefore = before
	slabBefore, slabErr := target.ReadSlab()

	// Connect.
	sink := &idleSink{}
	env.prog.Phase("connecting", int64(cfg.Conns))
	start := time.Now()
	clients, err := env.Load.Connect(ctx, cfg.Conns, func(i int) (loadgen.Spec, error) {
		// Each user's own channel needs no grant in the token.
		sub := "u" + strconv.Itoa(i)
		tok, err := env.Token(sub)
		return loadgen.Spec{Token: tok, Channels: []string{"user." + sub}}, err
	}, sink, func(n int) {
		if n%100 == 0 {
			env.prog.Set(int64(n))
		}
	})
	if err != nil {
		env.prog.Done()
		return nil, err
	}
	defer loadgen.CloseAll(clients)
	env.prog.Set(int64(cfg.Conns))
	env.prog.Done()
	r.ConnectSeconds = time.Since(start).Seconds()
	r.ConnectRate = float64(cfg.Conns) / r.ConnectSeconds

	// Idle: settle, then watch memory and CPU.
	if err := env.sleep(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	pingsBefore := env.Load.Stats().Pings
	first, err := env.ServerSample()
	if err != nil {
		return nil, err
	}
	secs := int64(cfg.Idle / time.Second)
	env.prog.Phase(fmt.Sprintf("idle %d conns", cfg.Conns), secs)
	last := first
	r.RSSAfterMin = first.RSS
	r.Samples = append(r.Samples, RSSSample{Seconds: 0, RSS: first.RSS})
	for last.At.Sub(first.At) < cfg.Idle {
		step := min(time.Second, cfg.Idle-last.At.Sub(first.At))
		if err := env.sleep(ctx, step); err != nil {
			return nil, err
		}
		if last, err = env.ServerSample(); err != nil {
			return nil, err
		}
		el := last.At.Sub(first.At)
		r.Samples = append(r.Samples, RSSSample{Seconds: el.Seconds(), RSS: last.RSS})
		if el >= cfg.Idle/2 {
			r.RSSAfterMin = min(r.RSSAfterMin, last.RSS)
		}
		env.prog.Set(int64(el / time.Second))
	}
	env.prog.Done()
	el := last.At.Sub(first.At)
	r.IdleSeconds = el.Seconds()
	r.RSSAfter = last.RSS
	r.BytesPerConn = float64(r.RSSAfter-r.RSSBefore) / float64(cfg.Conns)
	r.BytesPerConnMin = float64(r.RSSAfterMin-r.RSSBefore) / float64(cfg.Conns)
	r.MeetsTarget = r.BytesPerConn <= float64(r.TargetBytesPerConn)
	cpu := last.CPU - first.CPU
	r.CPUPercent = 100 * cpu.Seconds() / el.Seconds()
	r.CPUMsPerSec = 1000 * cpu.Seconds() / el.Seconds()
	r.Pings = env.Load.Stats().Pings - pingsBefore
	r.Closed = int(sink.closed.Load())
	r.Messages = sink.messages.Load()
	if slabErr == nil {
		if slabAfter, err := target.ReadSlab(); err == nil {
			r.KernelSlabPerConn = float64(slabAfter-slabBefore) / float64(cfg.Conns)
		}
	}
	if r.Closed > 0 {
		return r, fmt.Errorf("bench: %d of %d idle connections were closed during the run", r.Closed, cfg.Conns)
	}
	return r, nil
}
