package fleetgate

import (
	"context"
	"errors"
	"maps"
	"sync"
)

// memTable is an in-memory Table with the conditional semantics of DynamoTable: each
// operation is atomic, as one UpdateItem is.
type memTable struct {
	mu    sync.Mutex
	items map[string]State
	ops   int
}

func newMemTable() *memTable { return &memTable{items: map[string]State{}} }

func clone(s State) State {
	s.Leases = maps.Clone(s.Leases)
	if s.Leases == nil && s.Exists {
		s.Leases = map[string]int64{}
	}
	return s
}

func (m *memTable) Get(_ context.Context, key string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	return clone(m.items[key]), nil
}

func (m *memTable) FastBook(_ context.Context, key string, op FastBook) (State, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	st := m.items[key]
	old := clone(st)
	if !st.Exists || st.Ttat < op.TFloor || st.Ttat > op.Ceil || st.Clim != op.Clim || st.Hold > op.Now ||
		(op.Lease != "" && int64(len(st.Leases)) >= op.Clim) {
		return old, false, nil
	}
	if op.Anchor && st.Ttat <= st.Rtat || !op.Anchor && (st.Rtat < st.Ttat || st.Rtat < op.RFloor || st.Rtat > op.Ceil) {
		return old, false, nil
	}
	st = clone(st)
	if op.Anchor {
		st.Rtat = st.Ttat + op.Rtat
	} else {
		st.Rtat += op.Rtat
	}
	st.Ttat += op.Ttat
	if op.Lease != "" {
		st.Leases[op.Lease] = op.LeaseExp
	}
	m.items[key] = st
	return old, true, nil
}

func (m *memTable) CASBook(_ context.Context, key string, op CASBook) (State, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	st := m.items[key]
	if !op.Old.Exists {
		if st.Exists {
			return clone(st), false, nil
		}
		st = State{Exists: true, Rtat: op.Rtat, Ttat: op.Ttat, Clim: op.Clim, Leases: map[string]int64{}}
	} else {
		if !st.Exists || st.Rtat != op.Old.Rtat || st.Ttat != op.Old.Ttat || st.Clim != op.Old.Clim || st.Hold != op.Old.Hold {
			return clone(st), false, nil
		}
		st = clone(st)
		st.Rtat, st.Ttat = op.Rtat, op.Ttat
		for _, id := range op.Expired {
			delete(st.Leases, id)
		}
	}
	if op.Lease != "" {
		st.Leases[op.Lease] = op.LeaseExp
	}
	m.items[key] = st
	return State{}, true, nil
}

func (m *memTable) Settle(_ context.Context, key string, op Settle) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	st := m.items[key]
	if !st.Exists {
		return State{}, errors.New("no item")
	}
	st = clone(st)
	st.Ttat += op.TtatDelta
	st.Streak += op.Streak
	st.Used += op.Used
	st.Est += op.Est
	st.Settled += op.Settled
	if op.SpareUntil > 0 {
		st.Spares++
		st.SpareUntil = op.SpareUntil
	}
	delete(st.Leases, op.Lease)
	m.items[key] = st
	return clone(st), nil
}

func (m *memTable) ClaimSpare(_ context.Context, key string, op ClaimSpare) (State, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	st := m.items[key]
	old := clone(st)
	if st.Spares <= 0 || st.SpareUntil < op.Now || (op.Lease != "" && int64(len(st.Leases)) >= op.Clim) {
		return old, false, nil
	}
	st = clone(st)
	st.Spares--
	if op.Lease != "" {
		st.Leases[op.Lease] = op.LeaseExp
	}
	m.items[key] = st
	return old, true, nil
}

func (m *memTable) SetLimit(_ context.Context, key string, gen, old, to int64, bump bool) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	st := m.items[key]
	if !st.Exists || st.Gen != gen || (!bump && (st.Clim != old || st.Streak < old)) {
		return false, nil
	}
	st.Clim, st.Streak = to, 0
	if bump {
		st.Gen++
	}
	m.items[key] = st
	return true, nil
}

func (m *memTable) Hold(_ context.Context, key string, until int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	st := m.items[key]
	if st.Exists && st.Hold < until {
		st.Hold = until
		m.items[key] = st
	}
	return nil
}

func (m *memTable) RemoveLease(_ context.Context, key, lease string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	st := clone(m.items[key])
	if st.Exists {
		delete(st.Leases, lease)
		m.items[key] = st
	}
	return nil
}
