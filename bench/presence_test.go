package bench_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/heraldrt/herald/bench"
	"github.com/heraldrt/herald/internal/testserver"
)

func TestPresenceSmoke(t *testing.T) {
	noLeaks(t)
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const members, churn, window = 300, 50, 3 * time.Second
	rep, err := bench.RunPresence(ctx, env, bench.PresenceConfig{Members: members, Churn: churn, Duration: window})
	if err != nil {
		t.Fatal(err)
	}
	checkOutputs(t, rep)
	secs := rep.Seconds
	if rep.Members != members || secs < 0.95*window.Seconds() || secs > window.Seconds()+0.5 || rep.AwaySeconds != 1 || rep.PresenceIntervalMs != 500 {
		t.Fatalf("implausible run: %+v", rep)
	}
	// 50 leaves and, about a second later, 50 joins a second.
	want := churn * secs
	if math.Abs(float64(rep.Leaves)-want) > 3 || math.Abs(float64(rep.Joins)-want) > 10 || rep.ChurnEvents != rep.Joins {
		t.Fatalf("%d leaves and %d joins in %.2fs, want about %.0f each", rep.Leaves, rep.Joins, secs, want)
	}
	if rep.Frames != rep.StateFrames+rep.DiffFrames || rep.Bytes < 40*rep.Frames || len(rep.Samples) < 3 {
		t.Fatalf("inconsistent counts: %+v", rep)
	}
	// Each join brings its member one presence_state (give or take the
	// joins at the window's edges, 0.2s of them).
	if math.Abs(float64(rep.StateFrames)-float64(rep.Joins)) > 10 {
		t.Fatalf("%d presence_state frames for %d joins", rep.StateFrames, rep.Joins)
	}
	// Diffs: at most one per member per interval, i.e. 2/s and a tick
	// at the edges; and they do flow, about every interval since every
	// interval has leaves and joins (a member misses two while away).
	perSec := 1 / (rep.PresenceIntervalMs / 1000)
	maxDiffs := members * (perSec*secs + 2)
	if float64(rep.DiffFrames) > maxDiffs || !rep.WithinBound || rep.DiffBound > uint64(maxDiffs) {
		t.Fatalf("%d presence_diff frames in %.2fs, over %.0f (one per member per %.0f ms); bound %d", rep.DiffFrames, secs, maxDiffs, rep.PresenceIntervalMs, rep.DiffBound)
	}
	if rep.DiffsPerMemberPerSec < perSec/2 {
		t.Fatalf("%.2f presence_diff per member per second: the churn was not seen", rep.DiffsPerMemberPerSec)
	}
	// All frames per member per second: the diffs plus one state per
	// join, far below one frame per member per change.
	if bound := perSec*(secs+2)/secs + float64(rep.Joins)/members/secs; rep.FramesPerMemberPerSec > bound {
		t.Fatalf("%.2f presence frames per member per second, over %.2f", rep.FramesPerMemberPerSec, bound)
	}
	if rep.Naive != uint64(rep.ChurnEvents)*members || rep.NaiveRatio < 10 || math.Abs(rep.NaiveRatio-float64(rep.Naive)/float64(rep.Frames)) > 1e-9 {
		t.Fatalf("naive %d, ratio %.2f for %d frames", rep.Naive, rep.NaiveRatio, rep.Frames)
	}
	if got := srv.Hub.Stats.PresenceFrames.Load(); got < rep.DiffFrames {
		t.Fatalf("the server counts %d presence_diff frames sent, the members %d received in the window alone", got, rep.DiffFrames)
	}
	if rep.ServerCPUPercent <= 0 || rep.ServerCPUMicrosPerChurn <= 0 || rep.LoadCPUPercent <= 0 {
		t.Fatalf("CPU unmeasured: %+v", rep)
	}
	if rep.Unanswered+rep.Closed != 0 || rep.ErrorFrames != 0 || rep.FullSeconds < rep.ConnectSeconds {
		t.Fatalf("integrity: %+v", rep)
	}
}

func TestPresenceSmokeRejoiningAtOnce(t *testing.T) {
	noLeaks(t)
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := bench.RunPresence(ctx, env, bench.PresenceConfig{Members: 100, Churn: 40, Away: -1, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.AwaySeconds != 0 || rep.Leaves != rep.Joins || rep.Joins < 75 || math.Abs(float64(rep.StateFrames)-float64(rep.Joins)) > 8 || !rep.WithinBound {
		t.Fatalf("implausible run: %+v", rep)
	}
	checkOutputs(t, rep)
}

func TestPresenceRefusesConfigsThatCannotRun(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	for name, cfg := range map[string]bench.PresenceConfig{
		"too many members":      {Members: bench.MaxConnsPerProcess + 1},
		"members back too late": {Members: 100, Churn: 100, Away: time.Second},
	} {
		if _, err := bench.RunPresence(context.Background(), env, cfg); err == nil {
			t.Errorf("%s: RunPresence accepted %+v", name, cfg)
		}
	}
}
