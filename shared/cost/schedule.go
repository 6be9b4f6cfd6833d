package cost

import (
	"container/heap"
	"time"
)

// Schedule describes the calls of a run for Duration.
type Schedule struct {
	// Tokens is, per call in start order, the rate-limit estimate the gate charges
	// against TPM (prompt plus output budget).
	Tokens []int
	// Batch is the most calls in flight (at least 1).
	Batch int
	// RPM and TPM are the requests and tokens allowed per Per (0: unlimited).
	RPM, TPM int
	// Per is the span of RPM and TPM (default one minute).
	Per time.Duration
	// Latency is the assumed duration of one call.
	Latency time.Duration
}

// Duration is the expected wall time of s: the calls start in order, each as soon as a
// slot is free (a sliding window, not waves), fewer than RPM calls and TPM tokens have
// started in the last Per, and each lasts Latency. This is the rule shared/ratelimit's
// Gate enforces; the server's own pacing and retries are not modelled.
func (s Schedule) Duration() time.Duration {
	if len(s.Tokens) == 0 {
		return 0
	}
	per := s.Per
	if per <= 0 {
		per = time.Minute
	}
	slots := &endHeap{}
	batch := max(s.Batch, 1)
	starts := make([]time.Duration, len(s.Tokens))
	var end time.Duration
	for i, tok := range s.Tokens {
		var t time.Duration
		if i > 0 {
			t = starts[i-1] // calls start in order
		}
		if slots.Len() == batch {
			t = max(t, heap.Pop(slots).(time.Duration))
		}
		if s.RPM > 0 && i >= s.RPM {
			t = max(t, starts[i-s.RPM]+per)
		}
		if s.TPM > 0 {
			t = max(t, s.tokenSlot(starts[:i], t, tok, per))
		}
		starts[i] = t
		heap.Push(slots, t+s.Latency)
		end = max(end, t+s.Latency)
	}
	return end
}

// tokenSlot is the earliest time at or after t when tok more tokens fit in the TPM
// window after the calls started at starts (in order). A call larger than TPM waits for
// an empty window.
func (s Schedule) tokenSlot(starts []time.Duration, t time.Duration, tok int, per time.Duration) time.Duration {
	need := min(tok, s.TPM)
	for {
		used := 0
		first := -1 // the oldest start still in the window
		for j := len(starts) - 1; j >= 0 && starts[j] > t-per; j-- {
			used += s.Tokens[j]
			first = j
		}
		if used+need <= s.TPM || first < 0 {
			return t
		}
		t = starts[first] + per // wait for the oldest to leave the window
	}
}

type endHeap []time.Duration

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(time.Duration)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
