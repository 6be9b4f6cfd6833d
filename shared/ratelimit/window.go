package ratelimit

import "time"

// window is a sliding-window log: at most limit units in any span of per. Entries are
// kept in time order (the Gate reserves in FIFO order), so the earliest instant a new
// reservation fits is found by expiring the oldest entries one by one.
//
// A sliding log is stricter than both a fixed window and a token bucket of the same
// rate: a server enforcing either never sees more than limit requests from it in a
// window. The Gate adds a second, shorter window for requests (Config.Intervals) so a
// whole minute's budget is not sent in one burst: providers quantise per-minute limits
// over shorter intervals.
type window struct {
	limit int
	per   time.Duration
	slack time.Duration // added to every expiry, for clock and network skew
	log   []entry
	sum   int
	seq   uint64
}

type entry struct {
	at time.Time
	n  int
	id uint64
}

func (w *window) expiry(e entry) time.Time { return e.at.Add(w.per + w.slack) }

// prune drops entries that no instant from now on can see. now must be the current
// time, never a future instant: a reservation given back later (a cancelled wait)
// would otherwise leave the window without entries still in force before that
// instant.
func (w *window) prune(now time.Time) {
	i := 0
	for i < len(w.log) && !w.expiry(w.log[i]).After(now) {
		w.sum -= w.log[i].n
		i++
	}
	w.log = w.log[i:]
}

// earliest is the first instant at or after t when n more units fit. It does not
// change the log. A request for more than the whole limit is treated as the whole
// limit, so it waits for an empty window instead of forever.
func (w *window) earliest(t time.Time, n int) time.Time {
	if w.limit <= 0 {
		return t
	}
	n = min(max(n, 0), w.limit)
	sum, i := w.sum, 0
	for ; i < len(w.log) && !w.expiry(w.log[i]).After(t); i++ {
		sum -= w.log[i].n
	}
	for ; sum+n > w.limit && i < len(w.log); i++ {
		t = w.expiry(w.log[i])
		sum -= w.log[i].n
	}
	return t
}

// add records n units at t (t never earlier than the previous entry) and returns the
// entry's id (0 when nothing was recorded).
func (w *window) add(t time.Time, n int) uint64 {
	if w.limit <= 0 || n <= 0 {
		return 0
	}
	w.seq++
	w.log = append(w.log, entry{at: t, n: min(n, w.limit), id: w.seq})
	w.sum += min(n, w.limit)
	return w.seq
}

// settle sets the entry id to n units, what the call used (at most the limit); it is
// a no-op if the entry already expired.
func (w *window) settle(id uint64, n int) {
	if id == 0 {
		return
	}
	for i := len(w.log) - 1; i >= 0; i-- {
		if w.log[i].id != id {
			continue
		}
		n = min(max(n, 0), w.limit)
		w.sum += n - w.log[i].n
		if n == 0 {
			w.log = append(w.log[:i], w.log[i+1:]...)
		} else {
			w.log[i].n = n
		}
		return
	}
}
