package report

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if h.Count() != 0 || h.Quantile(0.5) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Fatalf("empty histogram: count %d p50 %d max %d min %d mean %v", h.Count(), h.Quantile(0.5), h.Max(), h.Min(), h.Mean())
	}
	if got := Summarize(&h); got != (Latency{}) {
		t.Fatalf("Summarize(empty) = %+v", got)
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	tests := []struct {
		q    float64
		want int64
	}{{0.01, 1}, {0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}}
	for _, tc := range tests {
		if got := h.Quantile(tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %d, want %d", tc.q, got, tc.want)
		}
	}
	if h.Min() != 1 || h.Max() != 100 || h.Mean() != 50.5 {
		t.Errorf("min %d max %d mean %v", h.Min(), h.Max(), h.Mean())
	}
}

// TestHistogramQuantilesWithinResolution checks quantiles against the
// exact ones of a sorted sample, over many magnitudes.
func TestHistogramQuantilesWithinResolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]int64, 100000)
	for i := range vals {
		// Log-uniform from 1µs to 10s, as latencies spread.
		v := int64(math.Exp(rng.Float64()*math.Log(1e7)) * 1e3)
		vals[i] = v
		h.Record(v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 1.0/64 {
			t.Errorf("Quantile(%v) = %d, exact %d: off by %.2f%%", q, got, exact, 100*rel)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
		t.Errorf("max %d min %d, want %d %d", h.Max(), h.Min(), vals[len(vals)-1], vals[0])
	}
}

func TestHistogramClampsOutliers(t *testing.T) {
	var h Histogram
	h.Record(-5)
	h.Record(math.MaxInt64)
	if h.Min() != 0 {
		t.Errorf("negative value recorded as %d, want 0", h.Min())
	}
	if h.Max() != maxValue || h.Quantile(1) != maxValue {
		t.Errorf("huge value: max %d p100 %d, want %d", h.Max(), h.Quantile(1), int64(maxValue))
	}
}

func TestBucketsAreContiguous(t *testing.T) {
	next := int64(0)
	for i := 0; i < numBuckets; i++ {
		low, w := bucketLow(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
		}
		if bucketOf(uint64(low)) != i || bucketOf(uint64(low+w-1)) != i {
			t.Fatalf("bucket %d [%d, %d) does not map back to itself", i, low, low+w)
		}
		next = low + w
	}
	if next-1 != maxValue {
		t.Fatalf("buckets end at %d, want %d", next-1, int64(maxValue))
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for v := int64(1); v <= 1000; v++ {
		all.Record(v * 1000)
		if v%2 == 0 {
			a.Record(v * 1000)
		} else {
			b.Record(v * 1000)
		}
	}
	a.Merge(&b)
	a.Merge(&Histogram{}) // an empty one changes nothing
	if Summarize(&a) != Summarize(&all) || a.Min() != all.Min() {
		t.Fatalf("merged %+v (min %d), want %+v (min %d)", Summarize(&a), a.Min(), Summarize(&all), all.Min())
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				h.RecordDuration(time.Duration(i) * time.Microsecond)
				_ = h.Quantile(0.99)
			}
		}()
	}
	wg.Wait()
	if h.Count() != 8000 {
		t.Fatalf("count %d, want 8000", h.Count())
	}
}

func TestSummarize(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.RecordDuration(time.Duration(i) * time.Millisecond / 10) // 0.1ms … 100ms
	}
	s := Summarize(&h)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"p50", s.P50Ms, 50}, {"p90", s.P90Ms, 90}, {"p99", s.P99Ms, 99}, {"p99.9", s.P999Ms, 99.9},
		{"max", s.MaxMs, 100}, {"mean", s.MeanMs, 50.05},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want)/c.want > 1.0/64 {
			t.Errorf("%s = %v ms, want about %v", c.name, c.got, c.want)
		}
	}
	if s.Count != 1000 {
		t.Errorf("count %d", s.Count)
	}
}
