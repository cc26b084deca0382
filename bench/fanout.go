package bench

import (
	"context"
	"fmt"
	"strconv"

	"github.com/heraldrt/herald/bench/loadgen"
)

// FanoutConfig configures RunFanout. The zero value of each field is its
// documented default.
type FanoutConfig struct {
	// Subscribers on the one channel. Zero means 5,000.
	Subscribers int
	// RampConfig is the load; its StartRate defaults to 10 msg/s.
	RampConfig
}

func (c *FanoutConfig) setDefaults() error {
	if c.Subscribers <= 0 {
		c.Subscribers = 5000
	}
	if c.Subscribers+1 > MaxConnsPerProcess {
		return fmt.Errorf("bench: %d subscribers asked, but one process can hold at most %d connections here (open-files limit 20,000 per process)", c.Subscribers, MaxConnsPerProcess-1)
	}
	return c.RampConfig.setDefaults(10)
}

// RunFanout subscribes cfg.Subscribers clients to one channel and ramps a
// publisher's rate until deliveries stop keeping up; then it publishes at
// a fraction of the saturation rate and measures publish→deliver latency.
// Every subscriber checks its seqs, so lost and duplicated messages are
// counted.
//
// With several nodes, subscribers are spread round-robin over them and
// there is one publisher per node, the publishes taking turns.
func RunFanout(ctx context.Context, env *Env, cfg FanoutConfig) (*FanoutReport, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	run, err := randomID()
	if err != nil {
		return nil, err
	}
	channel := "bench.fanout." + run
	r := newRampRun(env, cfg.RampConfig, run, []string{channel})
	r.subsName = "subscribers"
	rep := &FanoutReport{Scenario: "fanout", Server: env.serverInfo(), Subscribers: cfg.Subscribers, PayloadBytes: cfg.PayloadSize}
	defer r.close()

	r.subs = make([]*loadgen.Client, cfg.Subscribers)
	r.subChan = make([]int, cfg.Subscribers)
	r.subHandler = r.sink
	r.subSpec = func(i int) (loadgen.Spec, error) {
		tok, err := env.Token("s"+strconv.Itoa(i), channel)
		return loadgen.Spec{Token: tok, Channels: []string{channel}, URL: env.NodeURL(i)}, err
	}
	if err := r.connectAll(ctx); err != nil {
		return nil, err
	}
	tok, err := env.Token("publisher", channel)
	if err != nil {
		return nil, err
	}
	pubs, err := env.Load.Connect(ctx, env.Nodes(), func(k int) (loadgen.Spec, error) {
		return loadgen.Spec{Token: tok, URL: env.NodeURL(k)}, nil
	}, r.pub, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: publisher: %w", err)
	}
	for _, c := range pubs {
		r.pubs = append(r.pubs, pubSlot{sub: -1, c: c})
	}
	r.pubRequired = true
	return rep, r.rampAndSteady(ctx, &rep.RampResult)
}
