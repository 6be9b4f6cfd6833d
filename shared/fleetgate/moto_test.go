package fleetgate

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

// TestDynamoTableOnMoto runs the budget's DynamoDB expressions against moto: several
// invocations (each its own client and Gate) booking at once never get slots closer
// than the pace, settlement, halving, raising, pauses and lease expiry work on the
// real item, and the requests per call are counted. moto does not serialise
// concurrent requests on one item (see mototest.SerialDynamoDB), so the clients share
// one lock: the test checks the gate's conditions, not moto's locking.
func TestDynamoTableOnMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	const table = "budget-test"
	if err := srv.CreateTable(ctx, table); err != nil {
		t.Fatal(err)
	}
	var lock sync.Mutex
	// Five invocations book concurrently, with the request limit binding (the fast
	// path ADDs to both timelines) and with the token limit binding (the request
	// timeline is set one interval after the token timeline's end).
	for _, tt := range []struct {
		name string
		tpm  int
	}{{"requests bind", 600000}, {"tokens bind", 60000}} {
		t.Run("concurrent bookings, "+tt.name, func(t *testing.T) {
			cfg := Config{RPM: 600, TPM: tt.tpm, Clock: frozenClock{}, MaxWait: time.Hour, MaxConcurrency: 1000, Horizon: time.Hour}
			k := key + "-" + strconv.Itoa(tt.tpm)
			var mu sync.Mutex
			var slots []int64
			var wg sync.WaitGroup
			gates := make([]*Gate, 5)
			for i := range gates {
				api := mototest.NewSerialDynamoDB(dynamodb.NewFromConfig(srv.AWSConfig(ctx)), &lock)
				gates[i] = New(NewDynamoTable(api, table), k, cfg)
				wg.Go(func() {
					for range 12 {
						b, err := gates[i].book(ctx, 500)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						slots = append(slots, b.At)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			slices.Sort(slots)
			ir := int64(float64(time.Minute.Milliseconds()) * 1.02 / 600)
			gap := max(ir, int64(float64(time.Minute.Milliseconds())*1.02/float64(tt.tpm)*500))
			for i := 1; i < len(slots); i++ {
				if d := slots[i] - slots[i-1]; d < gap-1 {
					t.Fatalf("slots %d and %d are %d ms apart, want >= %d (over-admission)", i-1, i, d, gap)
				}
			}
			st, err := NewDynamoTable(dynamodb.NewFromConfig(srv.AWSConfig(ctx)), table).Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if d := st.Rtat - slots[len(slots)-1]; d < ir-1 || d > ir+1 {
				t.Fatalf("the request timeline ends %d ms after the last slot, want %d", d, ir)
			}
			var req, conf int
			for _, g := range gates {
				req += g.Stats().Requests
				conf += g.Stats().Conflicts
			}
			t.Logf("%d bookings by 5 concurrent invocations: %d DynamoDB requests (%.2f per booking), %d conflicts",
				len(slots), req, float64(req)/float64(len(slots)), conf)
		})
	}

	t.Run("settle, halve, raise, hold", func(t *testing.T) {
		k2 := key + "-2"
		api := mototest.NewSerialDynamoDB(dynamodb.NewFromConfig(srv.AWSConfig(ctx)), &lock)
		tab := NewDynamoTable(api, table)
		g := New(tab, k2, Config{TPM: 100000, MaxConcurrency: 4, MaxWait: time.Second})
		settle, err := g.Reserve(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := tab.Get(ctx, k2)
		if len(st.Leases) != 1 || st.Clim != 4 {
			t.Fatalf("after a booking: %+v", st)
		}
		before := st.Ttat
		settle(examina.Response{InputTokens: 200, OutputTokens: 100}, nil)
		st, _ = tab.Get(ctx, k2)
		if len(st.Leases) != 0 || st.Ttat >= before || st.Streak != 1 || st.Used != 300 || st.Est != 1000 {
			t.Fatalf("after settling: %+v (token timeline was %d)", st, before)
		}
		settle, err = g.Reserve(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		settle(examina.Response{}, &examina.ProviderError{Kind: examina.KindTransient, HTTPStatus: 429, RateLimit: true, RetryAfter: 30 * time.Second})
		st, _ = tab.Get(ctx, k2)
		if st.Clim != 2 || st.Gen != 1 || st.Hold < time.Now().Add(25*time.Second).UnixMilli() {
			t.Fatalf("after a 429 with retry-after 30s: %+v", st)
		}
		var de *pipeline.DeferError
		if _, err := g.Reserve(ctx, 10); !errors.As(err, &de) || de.Wait < 25*time.Second {
			t.Fatalf("Reserve during the pause = %v, want a deferral past it", err)
		}
		if !slices.Equal([]int{len(st.Leases)}, []int{0}) {
			t.Fatalf("leases %v", st.Leases)
		}
		if ok, err := tab.SetLimit(ctx, k2, 1, 2, 3, false); err != nil || ok {
			t.Fatalf("raise without a streak = %v, %v; want refused", ok, err)
		}
		if err := tab.RemoveLease(ctx, k2, "none"); err != nil {
			t.Fatal(err)
		}
		// A server error leaves a spare slot; one claim takes it, the next is refused.
		if _, err := tab.Settle(ctx, k2, Settle{SpareUntil: time.Now().Add(time.Minute).UnixMilli()}); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UnixMilli()
		if old, ok, err := tab.ClaimSpare(ctx, k2, ClaimSpare{Now: now, Clim: 2, Lease: "retry", LeaseExp: now + 60000}); err != nil || !ok || old.Spares != 1 {
			t.Fatalf("claiming the spare = %v, %v (%+v)", ok, err, old)
		}
		if old, ok, err := tab.ClaimSpare(ctx, k2, ClaimSpare{Now: now, Clim: 2}); err != nil || ok || old.Spares != 0 {
			t.Fatalf("claiming again = %v, %v (%+v); want refused", ok, err, old)
		}
		if st, _ := tab.Get(ctx, k2); st.Leases["retry"] == 0 {
			t.Fatalf("the claim took no lease: %+v", st)
		}
	})
}
