package dynamo_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Concurrent reservations never pass the job's cap together; settling replaces them
// with the charge, and the counters come back on the job.
func TestSpendCounters(t *testing.T) {
	e := setup(t)
	s := e.store(t)
	ctx := t.Context()
	j := job("ade-00000000c057", 3)
	j.MaxCostUSD = 0.000001 // 1000 nano-USD
	if _, err := s.CreateJob(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	const capNanos, worst = 1000, 100
	var wg sync.WaitGroup
	var granted atomic.Int64
	for range 20 {
		wg.Go(func() {
			ok, err := s.ReserveSpend(ctx, j.ID, worst, capNanos)
			if err != nil {
				t.Error(err)
			}
			if ok {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 10 {
		t.Fatalf("%d reservations of %d under a cap of %d, want exactly 10", granted.Load(), worst, capNanos)
	}
	for i := range 10 {
		metered := i != 0
		charge := int64(40)
		if !metered {
			charge = worst // an unmetered call counts at its worst case
		}
		if err := s.SettleSpend(ctx, j.ID, worst, charge, 30, 7, metered); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := examina.Spend{Calls: 10, InputTokens: 300, OutputTokens: 70, MeteredNanos: 9 * 40, Unmetered: 1, UnmeteredNanos: 100,
		CommittedNanos: 9*40 + 100, Refused: 10}
	if got.Spend == nil || *got.Spend != want || got.MaxCostUSD != j.MaxCostUSD {
		t.Fatalf("job spend = %+v, cap %g; want %+v, %g", got.Spend, got.MaxCostUSD, want, j.MaxCostUSD)
	}
	// 460 committed: five more reservations of 100 fit, the sixth does not.
	for i := range 6 {
		ok, err := s.ReserveSpend(ctx, j.ID, worst, capNanos)
		if err != nil || ok != (i < 5) {
			t.Fatalf("reservation %d after settling: ok %v, err %v", i, ok, err)
		}
	}
	// A call larger than the cap is refused without touching the counters.
	if ok, err := s.ReserveSpend(ctx, j.ID, 2*capNanos, capNanos); ok || err != nil {
		t.Fatalf("oversized reservation: ok %v, err %v", ok, err)
	}
	// No cap: always granted.
	if ok, err := s.ReserveSpend(ctx, j.ID, 1e9, 0); !ok || err != nil {
		t.Fatalf("uncapped reservation: ok %v, err %v", ok, err)
	}
	if _, err := s.ReserveSpend(ctx, "ade-000000000000", worst, capNanos); !examina.IsNotFound(err) {
		t.Errorf("reserving for a missing job: err = %v, want not found", err)
	}
	// PutJob keeps the counters of the job it is given.
	got, _ = s.GetJob(ctx, j.ID)
	if err := s.PutJob(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, _ := s.GetJob(ctx, j.ID)
	if again.Spend == nil || *again.Spend != *got.Spend {
		t.Errorf("PutJob round trip: %+v vs %+v", again.Spend, got.Spend)
	}
}
