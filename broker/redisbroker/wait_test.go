package redisbroker

import (
	"github.com/heraldrt/herald/internal/testbrokers"

	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

// startReplica starts a replica of the package's server and waits until
// it is in sync.
func startReplica(t *testing.T) {
	t.Helper()
	r, err := testbrokers.NewRedis(t.TempDir(), "--replicaof", "127.0.0.1", formatUint(uint64(srv.Port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Shutdown)
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := r.Do("INFO", "replication")
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not sync: %q %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWaitReplicas(t *testing.T) {
	tests := []struct {
		name     string
		replicas int // started for the case
		// wait is the WAIT timeout: short where it must run out, long
		// where a busy machine's replica must have time to answer.
		wait    time.Duration
		wantErr error
	}{
		{"not enough replicas", 0, 200 * time.Millisecond, ErrNotReplicated},
		{"one replica", 1, 10 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range tt.replicas {
				startReplica(t)
			}
			b, _ := startedBroker(t, Config{WaitReplicas: 1, WaitTimeout: tt.wait})
			ctx := context.Background()
			for i, want := range []herald.PublishResult{{Seq: 1}, {Seq: 1, Duplicate: true}} {
				res, err := b.Publish(ctx, "w.chan", &herald.Publication{ID: "x", Payload: []byte("1")})
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("publish %d: %v, want %v", i, err, tt.wantErr)
				}
				if res.Seq != want.Seq || res.Duplicate != want.Duplicate {
					t.Fatalf("publish %d: %+v, want %+v", i, res, want)
				}
			}
			resps := b.PublishBatch(ctx, []herald.PublishRequest{
				{Channel: "w.chan", Publication: &herald.Publication{ID: "y", Payload: []byte("1")}},
				{Channel: "w.other", Publication: &herald.Publication{ID: "y", Payload: []byte("1")}},
			})
			for i, r := range resps {
				if !errors.Is(r.Err, tt.wantErr) || (tt.wantErr == nil) != (r.Err == nil) || r.Seq != uint64(2-i) {
					t.Fatalf("batch %d: %+v, want seq %d and %v", i, r, 2-i, tt.wantErr)
				}
			}
			// A map put waits too, whether it stores or is refused: the
			// refusal stands on a record the replicas must have.
			for i, want := range []bool{true, false} {
				stored, now, err := b.MapPut(ctx, "w.chan", "read", herald.MapEntry{Key: "alice", Version: 3, Value: []byte("v")})
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("map put %d: %v, want %v", i, err, tt.wantErr)
				}
				if stored != want || now.Version != 3 || string(now.Value) != "v" {
					t.Fatalf("map put %d: stored=%v now=%+v, want stored=%v and version 3", i, stored, now, want)
				}
			}
		})
	}
}
