package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldrt/herald/bench"
	"github.com/heraldrt/herald/internal/testserver"
)

func tinyChat() bench.ChatConfig {
	return bench.ChatConfig{Rooms: 8, MinMembers: 2, MaxMembers: 4, RampConfig: tinyRamp(40)}
}

func TestChatSmoke(t *testing.T) {
	noLeaks(t)
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	rep, err := bench.RunChat(ctx, env, tinyChat())
	if err != nil {
		t.Fatal(err)
	}
	checkRamp(t, &rep.RampResult)
	if rep.Rooms != 8 || rep.Members < 16 || rep.Members > 32 || rep.DeliveriesPerPublish < 2 || rep.DeliveriesPerPublish > 4 {
		t.Fatalf("implausible rooms: %+v", rep)
	}
	// Every member gets each publish of its room, its own included.
	st := rep.Steady
	if st.AckLatency.Count == 0 || st.AckLatency.P999Ms < st.AckLatency.P50Ms {
		t.Fatalf("implausible ack latency %+v", st.AckLatency)
	}
	if want := float64(st.AckLatency.Count) * rep.DeliveriesPerPublish; float64(rep.SteadyIntegrity.Received) < 0.8*want {
		t.Fatalf("steady: %d received for %d publishes to rooms of %.1f", rep.SteadyIntegrity.Received, st.AckLatency.Count, rep.DeliveriesPerPublish)
	}
	if got := srv.Hub.Stats.Delivered.Load(); got < rep.RampIntegrity.Received+rep.SteadyIntegrity.Received {
		t.Fatalf("server delivered %d, clients received %d", got, rep.RampIntegrity.Received+rep.SteadyIntegrity.Received)
	}
	checkOutputs(t, rep)
}

func TestChatSmokeAtFixedRate(t *testing.T) {
	noLeaks(t)
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	cfg := tinyChat()
	cfg.Rate = 50
	rep, err := bench.RunChat(ctx, env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 0 || rep.Steady.Fraction != 0 || rep.Steady.PublishRate < 25 || rep.Steady.Latency.Count == 0 || rep.Lost+rep.Duplicated != 0 {
		t.Fatalf("fixed-rate run: %+v", rep.RampResult)
	}
	checkOutputs(t, rep)
}

func TestChatRefusesTooManyMembers(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	if _, err := bench.RunChat(context.Background(), env, bench.ChatConfig{Rooms: 2000, MinMembers: 10, MaxMembers: 10}); err == nil {
		t.Fatal("RunChat accepted more members than a process can hold")
	}
}
