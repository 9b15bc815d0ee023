package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The buckets tile the range without gaps or overlaps, and the last one
// holds histMax.
func TestHistogramBucketsTile(t *testing.T) {
	if got := bucketOf(uint64(histMax)) + 1; got != histBuckets {
		t.Fatalf("bucketOf(histMax)+1 = %d, want histBuckets = %d", got, histBuckets)
	}
	next := uint64(0)
	for i := range histBuckets {
		low, width := bucketRange(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d (the end of bucket %d)", i, low, next, i-1)
		}
		if bucketOf(low) != i || bucketOf(low+width-1) != i {
			t.Fatalf("bucket %d = [%d, %d]: bucketOf gives %d and %d", i, low, low+width-1, bucketOf(low), bucketOf(low+width-1))
		}
		if low >= uint64(time.Microsecond) && float64(width)/float64(low) > 1.0/128 {
			t.Fatalf("bucket %d = [%d, +%d) is wider than 1/128 of its start", i, low, width)
		}
		next = low + width
	}
}

// Every percentile is within 1/256 of the sample at the same rank of the
// sorted values, for latency shapes a load test meets.
func TestHistogramPercentilesAgainstSortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := map[string]func() time.Duration{
		"uniform 1µs–10ms": func() time.Duration { return time.Microsecond + time.Duration(r.Int64N(int64(10*time.Millisecond))) },
		"log-normal around 2ms": func() time.Duration {
			return time.Duration(float64(2*time.Millisecond) * math.Exp(r.NormFloat64()))
		},
		// Most answers fast, 2 % behind a 1 s stall: p99 lies in the stall.
		"bimodal with a stall": func() time.Duration {
			if r.IntN(50) == 0 {
				return time.Second + time.Duration(r.Int64N(int64(time.Second)))
			}
			return 300*time.Microsecond + time.Duration(r.Int64N(int64(time.Millisecond)))
		},
		"up to 10 minutes": func() time.Duration { return time.Duration(r.Int64N(int64(histMax))) },
	}
	for name, next := range shapes {
		for _, n := range []int{1, 7, 1000, 100_000} {
			var h histogram
			vals := make([]time.Duration, n)
			for i := range vals {
				vals[i] = next()
				h.record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
				rank := int(math.Ceil(q * float64(n)))
				if rank < 1 {
					rank = 1
				}
				want := vals[min(rank, n)-1]
				got := h.quantile(q)
				if rel := math.Abs(float64(got-want)) / float64(want); rel > 1.0/256 {
					t.Errorf("%s, n=%d: p%g = %v, sorted slice %v: off by %.3f %%, more than 0.39 %%", name, n, q*100, got, want, rel*100)
				}
			}
			if h.max != vals[n-1] || h.min != vals[0] {
				t.Errorf("%s: min/max %v/%v, want %v/%v", name, h.min, h.max, vals[0], vals[n-1])
			}
		}
	}
}

func TestHistogramMergeAndOverflow(t *testing.T) {
	var a, b histogram
	for i := 1; i <= 99; i++ {
		a.record(time.Duration(i) * time.Millisecond)
	}
	b.record(20 * time.Minute) // beyond histMax: counted as histMax, max exact
	b.record(30 * time.Minute)
	a.merge(&b)
	if a.n != 101 || a.max != 30*time.Minute {
		t.Fatalf("merged n=%d max=%v, want 101 and 30m", a.n, a.max)
	}
	// Rank 99 of 101.
	if got := a.quantile(0.98); got < 98*time.Millisecond || got > 100*time.Millisecond {
		t.Errorf("p98 = %v, want 99ms", got)
	}
	if got := a.quantile(1); got != 30*time.Minute {
		t.Errorf("p100 = %v, want the exact maximum 30m", got)
	}
	// Rank 100 of 101 is the 20 minutes, counted as histMax.
	if got := a.quantile(0.985); math.Abs(float64(got-histMax))/float64(histMax) > 1.0/256 {
		t.Errorf("p98.5 = %v, want about histMax (%v)", got, histMax)
	}
	var empty histogram
	if empty.quantile(0.5) != 0 || empty.mean() != 0 {
		t.Errorf("empty histogram: p50 %v, mean %v", empty.quantile(0.5), empty.mean())
	}
}
