package ratelimit

// aimd is the adaptive concurrency limit: additive increase, multiplicative decrease.
// A rate-limited outcome (429, 529, 503) halves the limit, never below 1; a window of
// successes as long as the limit raises it by one, never above max. Outcomes of calls
// that were already in flight when the limit was halved do not halve it again: they
// answer to the old limit.
type aimd struct {
	limit, max int
	successes  int
	ignore     int // outcomes still to come from calls started before the last decrease
	decreases  int
	increases  int
	lowest     int
}

func newAIMD(initial, hi int) aimd {
	hi = max(hi, 1)
	if initial < 1 || initial > hi {
		initial = hi
	}
	return aimd{limit: initial, max: hi, lowest: initial}
}

// outcome records one finished call. inflight is the number of calls still in flight
// after it.
func (a *aimd) outcome(rateLimited, success bool, inflight int) {
	switch {
	case rateLimited && a.ignore > 0:
		a.ignore--
	case rateLimited:
		a.limit = max(1, a.limit/2)
		a.lowest = min(a.lowest, a.limit)
		a.successes = 0
		a.ignore = inflight
		a.decreases++
	case success:
		if a.ignore > 0 {
			a.ignore--
		}
		a.successes++
		if a.successes >= a.limit && a.limit < a.max {
			a.limit++
			a.successes = 0
			a.increases++
		}
	default:
		if a.ignore > 0 {
			a.ignore--
		}
	}
}
