package fleetgate

import "context"

// State is the budget item as last read or written.
type State struct {
	Exists     bool
	Rtat, Ttat int64 // request and token timelines, Unix ms
	Hold       int64 // no call before this, Unix ms (0: none)
	Clim       int64 // adaptive concurrency limit
	Gen        int64 // adaptive generation: bumped by every halving
	Streak     int64 // successes since the last change of the limit
	Leases     map[string]int64
	Used, Est  int64 // tokens used and estimated by settled calls, for the booking ratio
	Settled    int64 // calls settled with their usage: how much the ratio has learned
	// Spares are slots booked by calls that failed without using them (a 5xx), for
	// their retries, until SpareUntil (Unix ms).
	Spares, SpareUntil int64
}

// FastBook books the next slot, max(Rtat, Ttat) of the item, if both timelines are
// current (at least the floors: no long idle gap to reset) and not beyond Ceil (the
// horizon), no pause is in force at Now, the limit is Clim, and (with a Lease) fewer
// than Clim leases exist. The request timeline always ends one request interval after
// the slot, so requests are never booked closer than that, whatever the token
// timeline did: without Anchor (the request timeline is the later one, Rtat >= Ttat)
// Rtat is added to it; with Anchor (the token timeline is later, Ttat > Rtat) it is
// set to the token timeline plus Rtat. Ttat is added to the token timeline. It returns
// the state before the write, whether or not the condition held.
type FastBook struct {
	Anchor         bool
	Rtat, Ttat     int64 // the request interval and the call's token time
	RFloor, TFloor int64
	Ceil           int64
	Now            int64
	Clim           int64
	Lease          string
	LeaseExp       int64
	ExpiresAt      int64 // the item's TTL, Unix seconds
}

// CASBook writes Rtat and Ttat (and Clim on a new item), adds Lease and removes
// Expired leases, if the timelines, the pause and the limit are still those of Old
// (or the item still does not exist). It returns the current state when the
// condition fails.
type CASBook struct {
	Old        State
	Rtat, Ttat int64
	Clim       int64
	Lease      string
	LeaseExp   int64
	Expired    []string
	ExpiresAt  int64
}

// Settle removes Lease, adds TtatDelta to the token timeline, Streak to the streak
// and Used, Est and Settled to the sums; it returns the state after the write.
type Settle struct {
	Lease     string
	TtatDelta int64
	Streak    int64
	Used, Est int64
	Settled   int64
	// SpareUntil, when set, adds a spare slot usable until then: the call failed
	// without using what it booked.
	SpareUntil int64
}

// ClaimSpare takes a spare slot (and Lease, if fewer than Clim leases exist) if one
// is left at Now. It returns the state before the write, whether or not it held.
type ClaimSpare struct {
	Now      int64
	Clim     int64
	Lease    string
	LeaseExp int64
}

// Table is the budget's storage: DynamoDB (NewDynamoTable), or a fake in tests.
type Table interface {
	Get(ctx context.Context, key string) (State, error)
	FastBook(ctx context.Context, key string, op FastBook) (old State, ok bool, err error)
	CASBook(ctx context.Context, key string, op CASBook) (cur State, ok bool, err error)
	Settle(ctx context.Context, key string, op Settle) (State, error)
	// SetLimit sets the limit from old to to if the generation is still gen; a
	// halving (bump) also bumps the generation. Both reset the streak.
	SetLimit(ctx context.Context, key string, gen, old, to int64, bump bool) (ok bool, err error)
	// Hold sets the pause to until unless a later one is set.
	Hold(ctx context.Context, key string, until int64) error
	RemoveLease(ctx context.Context, key, lease string) error
	ClaimSpare(ctx context.Context, key string, op ClaimSpare) (old State, ok bool, err error)
}
