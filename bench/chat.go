package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/heraldrt/herald/bench/loadgen"
)

// ChatConfig configures RunChat. The zero value of each field is its
// documented default.
type ChatConfig struct {
	// Rooms is how many rooms (channels) there are. Zero means 500.
	Rooms int
	// MinMembers and MaxMembers bound a room's size, drawn uniformly for
	// each room. Zero means 2 and 10.
	MinMembers, MaxMembers int
	// Seed picks the room sizes and the publishing order, so that two
	// runs with the same seed load the server the same way. Zero means 1.
	Seed uint64
	// RampConfig is the load, all members together; its StartRate
	// defaults to 200 msg/s.
	RampConfig
}

func (c *ChatConfig) setDefaults() error {
	if c.Rooms <= 0 {
		c.Rooms = 500
	}
	if c.MinMembers <= 0 {
		c.MinMembers = 2
	}
	if c.MaxMembers <= 0 {
		c.MaxMembers = 10
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.MaxMembers < c.MinMembers {
		return fmt.Errorf("bench: rooms of %d to %d members", c.MinMembers, c.MaxMembers)
	}
	return c.RampConfig.setDefaults(200)
}

// RunChat fills cfg.Rooms rooms with 2 to 10 members each (by default),
// every member subscribed to its room and publishing to it with acks,
// the members taking turns in a shuffled order so that the publishes are
// spread over the rooms. Like RunFanout it ramps the publish rate (all
// members together) until deliveries stop keeping up and then runs
// steady at a fraction of the saturation rate, or runs steady at
// cfg.Rate. A member receives its own publishes too; every member checks
// its room's seqs.
//
// With several nodes, members are spread round-robin over them (member
// j on node j mod N), so that most rooms span nodes.
func RunChat(ctx context.Context, env *Env, cfg ChatConfig) (*ChatReport, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	run, err := randomID()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	channels := make([]string, cfg.Rooms)
	var room []int // room of each member
	for i := range channels {
		channels[i] = "bench.chat." + run + "." + strconv.Itoa(i)
		for range cfg.MinMembers + rng.IntN(cfg.MaxMembers-cfg.MinMembers+1) {
			room = append(room, i)
		}
	}
	if len(room) > MaxConnsPerProcess {
		return nil, fmt.Errorf("bench: %d rooms of %d to %d members drew %d members, but one process can hold at most %d connections here (open-files limit 20,000 per process)", cfg.Rooms, cfg.MinMembers, cfg.MaxMembers, len(room), MaxConnsPerProcess)
	}
	r := newRampRun(env, cfg.RampConfig, run, channels)
	r.subsName = "members"
	rep := &ChatReport{
		Scenario: "chat", Server: env.serverInfo(), Rooms: cfg.Rooms, Members: len(room),
		MinMembers: cfg.MinMembers, MaxMembers: cfg.MaxMembers, PayloadBytes: cfg.PayloadSize,
		MeanRoomSize: float64(len(room)) / float64(cfg.Rooms),
	}
	defer r.close()

	r.subs = make([]*loadgen.Client, len(room))
	r.subChan = room
	r.subHandler = member{sink: r.sink, pub: r.pub}
	r.subSpec = func(i int) (loadgen.Spec, error) {
		ch := channels[room[i]]
		tok, err := env.Token("m"+strconv.Itoa(i), ch)
		return loadgen.Spec{Token: tok, Channels: []string{ch}, URL: env.NodeURL(i)}, err
	}
	for _, i := range rng.Perm(len(room)) {
		r.pubs = append(r.pubs, pubSlot{sub: i, ch: room[i]})
	}
	if err := r.connectAll(ctx); err != nil {
		return nil, err
	}
	rep.DeliveriesPerPublish = r.deliveriesPerPublish()
	return rep, r.rampAndSteady(ctx, &rep.RampResult)
}
