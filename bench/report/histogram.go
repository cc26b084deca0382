package report

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sets the histogram's resolution: each power of two is split into
// 2^subBits buckets, so a recorded value is known to within 1/64 (1.6%).
const subBits = 6

const (
	subCount = 1 << subBits
	// maxValue is the largest value kept apart; larger ones are clamped
	// to it. 2^44 ns is about 4.9 hours.
	maxValue   = 1<<44 - 1
	numBuckets = (44-subBits)*subCount + subCount
)

// Histogram counts non-negative values, usually nanoseconds, in
// log-linear buckets (the HdrHistogram layout): exact below 128, then 64
// buckets per power of two. The zero value is ready to use; it is about
// 20 KB.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
	min    atomic.Uint64 // stored as ^value so that the zero value means "none"
}

// Record adds one value. Negative values count as 0.
func (h *Histogram) Record(v int64) {
	u := uint64(0)
	if v > 0 {
		u = uint64(v)
	}
	if u > maxValue {
		u = maxValue
	}
	h.counts[bucketOf(u)].Add(1)
	h.count.Add(1)
	h.sum.Add(u)
	raise(&h.max, u)
	raise(&h.min, ^u)
}

// raise sets a to v if v is larger. The minimum is kept as ^value, so
// raising it lowers the minimum.
func raise(a *atomic.Uint64, v uint64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// RecordDuration adds one duration.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Max returns the largest value recorded, or 0.
func (h *Histogram) Max() int64 { return int64(h.max.Load()) }

// Min returns the smallest value recorded, or 0.
func (h *Histogram) Min() int64 {
	m := h.min.Load()
	if m == 0 {
		return 0
	}
	return int64(^m)
}

// Mean returns the mean of the values recorded, or 0.
func (h *Histogram) Mean() float64 {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Merge adds the values recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.count.Load() == 0 {
		return
	}
	for i := range o.counts {
		if n := o.counts[i].Load(); n > 0 {
			h.counts[i].Add(n)
		}
	}
	h.count.Add(o.count.Load())
	h.sum.Add(o.sum.Load())
	raise(&h.max, o.max.Load())
	raise(&h.min, o.min.Load())
}

// Quantile returns the value at quantile q (0 < q ≤ 1): the smallest
// bucket value v such that at least q of the values are ≤ v. The answer is
// the middle of its bucket, kept within the recorded minimum and maximum.
// It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) int64 {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	if q <= 0 {
		return h.Min()
	}
	if q >= 1 {
		return h.Max()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := bucketMid(i)
			if mx := h.Max(); v > mx {
				v = mx
			}
			if mn := h.Min(); v < mn {
				v = mn
			}
			return v
		}
	}
	return h.Max()
}

// bucketOf returns the bucket index of v (v ≤ maxValue).
func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketLow returns the smallest value of bucket i, and its width.
func bucketLow(i int) (low, width int64) {
	if i < 2*subCount {
		return int64(i), 1
	}
	shift := i/subCount - 1
	return int64(subCount+i%subCount) << shift, 1 << shift
}

func bucketMid(i int) int64 {
	low, w := bucketLow(i)
	return low + (w-1)/2
}
