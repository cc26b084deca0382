package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldrt/herald/bench"
	"github.com/heraldrt/herald/internal/testserver"
)

func TestReconnectSmoke(t *testing.T) {
	noLeaks(t)
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	rep, err := bench.RunReconnect(ctx, env, bench.ReconnectConfig{Subscribers: 60, Channels: 6, Missed: 45, Timeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Channels 0-2 get 8 messages, 3-5 get 7: 10 subscribers each.
	if rep.ReplayExpected != 10*(3*8+3*7) || rep.Received != rep.ReplayExpected {
		t.Fatalf("expected %d replayed, received %d", rep.ReplayExpected, rep.Received)
	}
	if rep.Lost+rep.Duplicated != 0 || rep.NotRecovered != 0 || rep.Closed != 0 {
		t.Fatalf("integrity: %+v", rep)
	}
	for name, p := range map[string]bench.ConnectPhase{"first": rep.FirstConnect, "plain": rep.PlainReconnect, "resume": rep.Resume, "subscribed": rep.ResumeSubscribed} {
		if p.Seconds <= 0 || p.PerSecond <= 0 || p.Client.Count != 60 || p.Client.MaxMs > 1000*p.Seconds+1 {
			t.Fatalf("%s: implausible %+v", name, p)
		}
	}
	// Replays follow the subscribed frame.
	if rep.Resume.Seconds < rep.ResumeSubscribed.Seconds || rep.Resume.Client.P50Ms < rep.ResumeSubscribed.Client.P50Ms || rep.Ratio <= 0 || rep.DropWait != "" {
		t.Fatalf("implausible timing: resume %+v, ratio %v, drop %q", rep.Resume, rep.Ratio, rep.DropWait)
	}
	if rep.ServerReplayed == nil || *rep.ServerReplayed != rep.ReplayExpected || *rep.ServerResumes != 60 {
		t.Fatalf("server counts: replayed %v, resumes %v", rep.ServerReplayed, rep.ServerResumes)
	}
	if got := srv.Hub.Stats.Resumes.Load(); got != 60 {
		t.Fatalf("server saw %d resumes, want 60", got)
	}
	checkOutputs(t, rep)
}

func TestReconnectRefusesChannelsWithoutMessages(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	if _, err := bench.RunReconnect(context.Background(), env, bench.ReconnectConfig{Subscribers: 10, Channels: 5, Missed: 4}); err == nil {
		t.Fatal("RunReconnect accepted fewer missed messages than channels")
	}
}
