package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets, the layout of
// HdrHistogram: below 256 ns one bucket per nanosecond; above, every power
// of two [2^k, 2^(k+1)) is cut into 128 equal buckets. A bucket is at most
// 1/128 of its lower bound wide, and a value is reported as its bucket's
// midpoint, so every percentile is within 1/256 (0.4 %) of the true value
// of the sample at that rank — from 1 µs up to histMax (10 minutes), which
// takes 4,236 buckets (33 KiB). Longer values are counted as histMax; the
// maximum and the sum are kept exactly.
//
// It is not safe for concurrent use; the scheduler records under its lock.
type histogram struct {
	counts   [histBuckets]int64
	n        int64
	sum      time.Duration
	min, max time.Duration
}

const (
	histMax = 10 * time.Minute
	// subBits: 2^subBits buckets per power of two (128).
	subBits     = 7
	histBuckets = 4236 // bucketOf(histMax) + 1, checked in the tests
)

// bucketOf returns the bucket of v nanoseconds: with e = the number of low
// bits dropped so that v>>e < 256, bucket = 128·e + v>>e. For e = 0 that is
// v itself; for e ≥ 1, v>>e lies in [128, 256), so consecutive e follow on.
func bucketOf(v uint64) int {
	e := max(0, bits.Len64(v)-(subBits+1))
	return e<<subBits + int(v>>e)
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (low, width uint64) {
	if i < 2<<subBits {
		return uint64(i), 1
	}
	e := i>>subBits - 1
	return uint64(i-e<<subBits) << e, 1 << e
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
	h.sum += d
	h.counts[bucketOf(uint64(min(d, histMax)))]++
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value at rank ⌈q·n⌉ (nearest rank, q in [0, 1]):
// the midpoint of the bucket that holds that rank, kept within the exact
// minimum and maximum (which ranks 1 and n return as they are). 0 when the
// histogram is empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := min(max(nearestRank(q, h.n), 1), h.n)
	switch rank {
	case h.n:
		return h.max
	case 1:
		return h.min
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			v := time.Duration(low + width/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// nearestRank is ⌈q·n⌉; the small allowance keeps products such as
// 0.999·1000 that land a rounding error above a whole number on it.
func nearestRank(q float64, n int64) int64 {
	return int64(math.Ceil(q*float64(n) - 1e-9))
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
