package membroker

import (
	"context"
	"testing"

	"github.com/heraldrt/herald"
)

// TestMapPutsInOneBatch: puts of one key committed together are compared
// with each other in order, not only with what was committed before.
func TestMapPutsInOneBatch(t *testing.T) {
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	ctx := context.Background()
	if stored, _, err := b.MapPut(ctx, "c", "read", herald.MapEntry{Key: "k", Version: 4, Value: []byte("4")}); err != nil || !stored {
		t.Fatalf("first put: stored %v, %v", stored, err)
	}
	steps := []struct {
		version    uint64
		wantStored bool
		wantNow    uint64
	}{
		{3, false, 4}, // below the committed version
		{5, true, 5},
		{5, false, 5}, // equal to a version of the same batch
		{7, true, 7},
		{6, false, 7}, // below a version of the same batch
		{8, true, 8},
	}
	reqs := make([]*mapPutReq, len(steps))
	batch := make([]request, len(steps))
	for i, st := range steps {
		reqs[i] = &mapPutReq{key: mapKey("c", "read", "k"), done: make(chan struct{}),
			entry: herald.MapEntry{Key: "k", Version: st.version, Value: []byte{byte('0' + st.version)}}}
		batch[i] = reqs[i]
	}
	// The committer is idle (nothing was submitted since the first put
	// was answered): commit the batch as it would.
	b.commit(batch)
	for i, st := range steps {
		r := reqs[i]
		<-r.done
		if r.err != nil || r.stored != st.wantStored || r.now.Version != st.wantNow || string(r.now.Value) != string(rune('0'+st.wantNow)) {
			t.Errorf("put %d of version %d: stored %v now %+v err %v; want stored %v at %d",
				i, st.version, r.stored, r.now, r.err, st.wantStored, st.wantNow)
		}
	}
	es, err := b.MapGet(ctx, "c", "read")
	if err != nil || len(es) != 1 || es[0].Version != 8 || string(es[0].Value) != "8" {
		t.Fatalf("after the batch the map holds %+v, %v; want k@8", es, err)
	}
}
