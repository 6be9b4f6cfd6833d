package ratelimit

import "time"

// window is a sliding-window log: at most limit units in any span of per. Entries are
// kept in time order (the Gate reserves in FIFO order), so the earliest instant a new
// reservation fits is found by expiring the oldest entries one by one.
//
// A sliding log is stricter than both a fixed window and a token bucket of the same
// rate: a server enforcing either never sees more than limit requests from it in a
// window, yet a whole window's budget is usable at once (a token bucket refilled
// smoothly would make 27 requests under a 30-a-minute limit take 52 seconds instead
// of none).
type window struct {
	limit int
	per   time.Duration
	slack time.Duration // added to every expiry, for clock and network skew
	log   []entry
	sum   int
}

type entry struct {
	at time.Time
	n  int
}

// prune drops entries that no instant from now on can see.
func (w *window) prune(now time.Time) {
	i := 0
	for i < len(w.log) && !w.log[i].at.Add(w.per+w.slack).After(now) {
		w.sum -= w.log[i].n
		i++
	}
	w.log = w.log[i:]
}

// earliest is the first instant at or after now when n more units fit. A request for
// more than the whole limit is treated as the whole limit, so it waits for an empty
// window instead of forever.
func (w *window) earliest(now time.Time, n int) time.Time {
	if w.limit <= 0 {
		return now
	}
	w.prune(now)
	n = min(max(n, 0), w.limit)
	t, sum := now, w.sum
	for i := 0; sum+n > w.limit && i < len(w.log); i++ {
		t = w.log[i].at.Add(w.per + w.slack)
		sum -= w.log[i].n
	}
	return t
}

// add records n units at t (t never earlier than the previous entry).
func (w *window) add(t time.Time, n int) {
	if w.limit <= 0 || n <= 0 {
		return
	}
	w.log = append(w.log, entry{at: t, n: min(n, w.limit)})
	w.sum += min(n, w.limit)
}

// remove takes back n units recorded at t by add (a reservation that was not used);
// it is a no-op if no such entry remains.
func (w *window) remove(t time.Time, n int) {
	if w.limit <= 0 || n <= 0 {
		return
	}
	n = min(n, w.limit)
	for i := len(w.log) - 1; i >= 0; i-- {
		if w.log[i].at.Equal(t) && w.log[i].n == n {
			w.log = append(w.log[:i], w.log[i+1:]...)
			w.sum -= n
			return
		}
	}
}

// latest is the instant of the newest entry, or the zero time.
func (w *window) latest() time.Time {
	if len(w.log) == 0 {
		return time.Time{}
	}
	return w.log[len(w.log)-1].at
}
