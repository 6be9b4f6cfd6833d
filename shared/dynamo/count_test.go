package dynamo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/shared/testkit/storetest"
)

// counting records the DynamoDB operations a store makes (over a serialized client).
type counting struct {
	dynamo.API
	mu  sync.Mutex
	ops []string
}

func (c *counting) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = append(c.ops, op)
}

// take returns the operations made since the last call.
func (c *counting) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = nil
	return ops
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.add("GetItem")
	return c.API.GetItem(ctx, in, o...)
}

func (c *counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.add("PutItem")
	return c.API.PutItem(ctx, in, o...)
}

func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.add("UpdateItem")
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.add("BatchGetItem")
	return c.API.BatchGetItem(ctx, in, o...)
}

func (c *counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.add(fmt.Sprintf("TransactWriteItems/%d", len(in.TransactItems)))
	return c.API.TransactWriteItems(ctx, in, o...)
}

// countingStore returns a store over a fresh table whose requests are counted, and
// the table's name.
func (e env) countingStore(t *testing.T) (*dynamo.Store, *counting, string) {
	c := &counting{API: mototest.NewSerialDynamoDB(e.client, new(sync.Mutex))}
	table := newTable(t, e.srv)
	s := dynamo.New(c, table)
	s.Clock = &fakeClock{now: time.Date(2025, 6, 14, 9, 0, 0, 0, time.UTC)}
	return s, c, table
}

// meta reads the job's META item as the state machine's CheckJob state does.
func meta(t *testing.T, e env, table, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := e.client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "JOB#" + id}, "SK": &types.AttributeValueMemberS{Value: "META"}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func numAttr(item map[string]types.AttributeValue, name string) string {
	if n, ok := item[name].(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return ""
}

// TestCountResult walks a job of three exercises through CountResult with the total
// known: what each call returns, and exactly which requests it makes.
func TestCountResult(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	s, c, _ := e.countingStore(t)
	if _, err := s.CreateJob(ctx, job("j", 3), exercises(3)); err != nil {
		t.Fatal(err)
	}
	c.take()
	deg := storetest.Result(1)
	deg.Analysis = examina.DefaultAnalysis("boom")
	fresh := storetest.Result(0).Analysis
	steps := []struct {
		name        string
		r           examina.ExerciseResult
		cacheKey    string
		counted     bool
		done, total int
		ops         []string
	}{
		{"first result, with its cache entry", storetest.Result(0), "k0", true, -1, 3, []string{"TransactWriteItems/3"}},
		{"its redelivery", storetest.Result(0), "k0", false, 1, 3, []string{"TransactWriteItems/3", "GetItem"}},
		{"degraded, no cache entry", deg, "", true, -1, 3, []string{"TransactWriteItems/2"}},
		{"the last result: T1 then T2", storetest.Result(2), "k2", true, 3, 3, []string{"TransactWriteItems/3", "TransactWriteItems/3"}},
		{"the last result redelivered", storetest.Result(2), "k2", false, 3, 3, []string{"TransactWriteItems/3", "GetItem"}},
		{"an early result redelivered after completion", deg, "", false, 3, 3, []string{"TransactWriteItems/2", "GetItem"}},
	}
	for _, st := range steps {
		var cache *examina.Analysis
		if st.cacheKey != "" {
			cache = &fresh
		}
		counted, done, total, err := s.CountResult(ctx, "j", st.r, 3, st.cacheKey, cache)
		if err != nil || counted != st.counted || done != st.done || total != st.total {
			t.Fatalf("%s: CountResult = %v, %d/%d, %v; want %v, %d/%d", st.name, counted, done, total, err, st.counted, st.done, st.total)
		}
		if ops := c.take(); !slices.Equal(ops, st.ops) {
			t.Errorf("%s: requests %v, want %v", st.name, ops, st.ops)
		}
	}
	j, err := s.GetJob(ctx, "j")
	if err != nil || j.Done != 3 || j.Degraded != 1 {
		t.Fatalf("job = done %d degraded %d, %v; want 3, 1", j.Done, j.Degraded, err)
	}
	if rs, err := s.Results(ctx, "j"); err != nil || len(rs) != 3 || rs[1].Analysis.Status != examina.StatusDegraded {
		t.Fatalf("Results = %d, %v", len(rs), err)
	}
	// The cache entries were written by the counting transactions.
	for _, k := range []string{"k0", "k2"} {
		got, ok, err := s.CacheGet(ctx, k)
		if err != nil || !ok {
			t.Fatalf("CacheGet(%s) = %v, %v; want the entry written with the result", k, ok, err)
		}
		if d := storetest.Diff(got, fresh); d != "" {
			t.Fatalf("cached analysis: %s", d)
		}
	}
}

func TestCountResultEdgeCases(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	fresh := storetest.Result(0).Analysis

	t.Run("single exercise: one transaction", func(t *testing.T) {
		s, c, _ := e.countingStore(t)
		if _, err := s.CreateJob(ctx, job("one", 1), exercises(1)); err != nil {
			t.Fatal(err)
		}
		c.take()
		counted, done, total, err := s.CountResult(ctx, "one", storetest.Result(0), 1, "", nil)
		if err != nil || !counted || done != 1 || total != 1 {
			t.Fatalf("CountResult = %v, %d/%d, %v", counted, done, total, err)
		}
		if ops := c.take(); !slices.Equal(ops, []string{"TransactWriteItems/2"}) {
			t.Errorf("requests %v, want one transaction", ops)
		}
	})

	t.Run("missing job: nothing written, not even the cache entry", func(t *testing.T) {
		s, _, _ := e.countingStore(t)
		for _, total := range []int{0, 1, 3} {
			_, _, _, err := s.CountResult(ctx, "missing", storetest.Result(0), total, "km", &fresh)
			if !examina.IsNotFound(err) {
				t.Fatalf("total %d: CountResult of a missing job: %v, want not found", total, err)
			}
		}
		if rs, _ := s.Results(ctx, "missing"); len(rs) != 0 {
			t.Fatal("a result was stored for a missing job")
		}
		if _, ok, _ := s.CacheGet(ctx, "km"); ok {
			t.Fatal("a cache entry was written for a missing job")
		}
	})

	t.Run("a message total that is not the job's: counted once from the job's counters", func(t *testing.T) {
		s, _, _ := e.countingStore(t)
		if _, err := s.CreateJob(ctx, job("w", 3), exercises(3)); err != nil {
			t.Fatal(err)
		}
		for pos, want := range []struct{ done, total int }{{1, 3}, {2, 3}, {3, 3}} {
			counted, done, total, err := s.CountResult(ctx, "w", storetest.Result(pos), 2, "", nil)
			if err != nil || !counted || done != want.done || total != want.total {
				t.Fatalf("position %d: CountResult = %v, %d/%d, %v; want counted, %d/%d", pos, counted, done, total, err, want.done, want.total)
			}
		}
		if counted, done, _, err := s.CountResult(ctx, "w", storetest.Result(2), 2, "", nil); err != nil || counted || done != 3 {
			t.Fatalf("redelivery = %v, %d, %v", counted, done, err)
		}
	})

	t.Run("negative total", func(t *testing.T) {
		s, _, _ := e.countingStore(t)
		if _, _, _, err := s.CountResult(ctx, "x", storetest.Result(0), -1, "", nil); examina.KindOf(err) != examina.KindInvalid {
			t.Fatalf("CountResult with total -1: %v, want invalid", err)
		}
	})

	t.Run("cache entry refused alone: counted without it", func(t *testing.T) {
		r := &refuseCache{API: mototest.NewSerialDynamoDB(e.client, new(sync.Mutex))}
		s := dynamo.New(r, newTable(t, e.srv))
		s.Clock = &fakeClock{}
		if _, err := s.CreateJob(ctx, job("rc", 2), exercises(2)); err != nil {
			t.Fatal(err)
		}
		counted, done, _, err := s.CountResult(ctx, "rc", storetest.Result(0), 2, "kr", &fresh)
		if err != nil || !counted || done != -1 {
			t.Fatalf("CountResult = %v, %d, %v", counted, done, err)
		}
		if !slices.Equal(r.sizes, []int{3, 2}) {
			t.Fatalf("transactions of %v items, want [3 2] (the refused cache entry dropped)", r.sizes)
		}
		if _, ok, _ := s.CacheGet(ctx, "kr"); ok {
			t.Fatal("the refused cache entry was written")
		}
	})
}

// refuseCache cancels transactions that write a cache entry, as DynamoDB does when
// that item alone is invalid.
type refuseCache struct {
	dynamo.API
	sizes []int
}

func (r *refuseCache) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.sizes = append(r.sizes, len(in.TransactItems))
	if len(in.TransactItems) == 3 {
		return nil, &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: []types.CancellationReason{
			{Code: aws.String("None")}, {Code: aws.String("None")}, {Code: aws.String("ValidationError")}}}
	}
	return r.API.TransactWriteItems(ctx, in, o...)
}

// callerKey names the caller of a store operation in its context, for the gate.
type callerKey struct{}

// gate holds every counting transaction until the test releases it, so that the
// interleaving of concurrent callers is chosen by the test, one transaction at a time.
type gate struct {
	dynamo.API
	mu      sync.Mutex
	waiting map[string]held // by label, "caller:T1"
	arrived chan struct{}
}

// held is a transaction waiting at the gate: closing release lets it run, done is
// closed once it has.
type held struct{ release, done chan struct{} }

func newGate(api dynamo.API) *gate {
	return &gate{API: api, waiting: map[string]held{}, arrived: make(chan struct{}, 64)}
}

// label is "caller:T1" for the not-last condition, "caller:T2" for the last one and
// "caller:T0" for the unconditional count.
func label(ctx context.Context, in *dynamodb.TransactWriteItemsInput) string {
	cond := aws.ToString(in.TransactItems[1].Update.ConditionExpression)
	kind := "T0"
	switch {
	case strings.Contains(cond, "done <"):
		kind = "T1"
	case strings.Contains(cond, "done ="):
		kind = "T2"
	}
	return fmt.Sprintf("%v:%s", ctx.Value(callerKey{}), kind)
}

func (g *gate) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	l := label(ctx, in)
	h := held{release: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	g.waiting[l] = h
	g.mu.Unlock()
	g.arrived <- struct{}{}
	<-h.release
	defer close(h.done)
	return g.API.TransactWriteItems(ctx, in, o...)
}

// release lets the transaction l run once it has arrived, and waits until it has.
func (g *gate) release(t *testing.T, l string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		g.mu.Lock()
		h, ok := g.waiting[l]
		if ok {
			delete(g.waiting, l)
		}
		g.mu.Unlock()
		if ok {
			close(h.release)
			<-h.done
			return
		}
		select {
		case <-g.arrived:
		case <-deadline:
			t.Fatalf("transaction %s never arrived", l)
		}
	}
}

// TestCountResultInterleavings runs the last results of a job concurrently with the
// order of their transactions fixed step by step, checking in each interleaving that
// every position is counted once, done ends at total, exactly one caller reports
// counting the last result and exactly one ClaimSignal wins.
func TestCountResultInterleavings(t *testing.T) {
	e := setup(t)
	type call struct {
		name string
		pos  int
	}
	tests := []struct {
		name  string
		pre   []int // positions counted before
		calls []call
		// order releases the transactions one by one; each is waited for.
		order []string
		// counted and last are the callers that count, and the one that counts the
		// job's last result.
		counted []string
		last    string
	}{
		{"two results: T1 of a, then b's T1 fails and its T2 completes", []int{0},
			[]call{{"a", 1}, {"b", 2}}, []string{"a:T1", "b:T1", "b:T2"}, []string{"a", "b"}, "b"},
		{"two results: b first, then a completes", []int{0},
			[]call{{"a", 1}, {"b", 2}}, []string{"b:T1", "a:T1", "a:T2"}, []string{"a", "b"}, "a"},
		{"the last result delivered twice: both T1 fail, the first T2 wins, the second is a redelivery", []int{0, 1},
			[]call{{"x", 2}, {"y", 2}}, []string{"x:T1", "y:T1", "x:T2", "y:T2"}, []string{"x"}, "x"},
		{"the last result delivered twice: the duplicate's T2 runs first", []int{0, 1},
			[]call{{"x", 2}, {"y", 2}}, []string{"x:T1", "y:T1", "y:T2", "x:T2"}, []string{"y"}, "y"},
		{"a duplicate of a non-last result between the last result's T1 and T2", []int{0},
			[]call{{"a", 1}, {"a2", 1}, {"b", 2}}, []string{"a:T1", "b:T1", "a2:T1", "b:T2"}, []string{"a", "b"}, "b"},
		{"the last result's T1 fails after the other's T1; the other's duplicate lands after T2", []int{0},
			[]call{{"a", 1}, {"b", 2}, {"a2", 1}}, []string{"a:T1", "b:T1", "b:T2", "a2:T1"}, []string{"a", "b"}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			g := newGate(mototest.NewSerialDynamoDB(e.client, new(sync.Mutex)))
			table := newTable(t, e.srv)
			setupStore := dynamo.New(mototest.NewSerialDynamoDB(e.client, new(sync.Mutex)), table)
			if _, err := setupStore.CreateJob(ctx, job("race", 3), exercises(3)); err != nil {
				t.Fatal(err)
			}
			if _, err := setupStore.StartFanOut(ctx, "race", "tok-race"); err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.pre {
				if _, _, _, err := setupStore.CountResult(ctx, "race", storetest.Result(p), 3, "", nil); err != nil {
					t.Fatal(err)
				}
			}
			s := dynamo.New(g, table)
			s.Clock = &fakeClock{}
			type outcome struct {
				counted, last, won bool
				err                error
			}
			outcomes := make(map[string]outcome)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, c := range tt.calls {
				wg.Go(func() {
					cctx := context.WithValue(ctx, callerKey{}, c.name)
					counted, done, total, err := s.CountResult(cctx, "race", storetest.Result(c.pos), 3, "", nil)
					o := outcome{counted: counted, last: counted && done == total, err: err}
					if err == nil && done == total {
						_, won, cerr := s.ClaimSignal(cctx, "race")
						o.won, o.err = won, cerr
					}
					mu.Lock()
					outcomes[c.name] = o
					mu.Unlock()
				})
			}
			for _, l := range tt.order {
				g.release(t, l)
			}
			wg.Wait()
			var counted []string
			wins, lasts := 0, ""
			for _, c := range tt.calls {
				o := outcomes[c.name]
				if o.err != nil {
					t.Fatalf("%s: %v", c.name, o.err)
				}
				if o.counted {
					counted = append(counted, c.name)
				}
				if o.last {
					lasts += c.name
				}
				if o.won {
					wins++
				}
			}
			slices.Sort(counted)
			if !slices.Equal(counted, tt.counted) || lasts != tt.last || wins != 1 {
				t.Fatalf("counted %v, last %q, signal wins %d; want %v, %q, 1", counted, lasts, wins, tt.counted, tt.last)
			}
			m := meta(t, e, table, "race")
			if numAttr(m, "done") != "3" || numAttr(m, "total") != "3" {
				t.Fatalf("META done %s total %s, want 3/3", numAttr(m, "done"), numAttr(m, "total"))
			}
			if rs, err := setupStore.Results(ctx, "race"); err != nil || len(rs) != 3 {
				t.Fatalf("Results = %d, %v", len(rs), err)
			}
		})
	}
}

// TestCrashAfterLastCount: the invocation that counted the last result dies before
// claiming the signal. The state machine's CheckJob reads done == total from META
// (and goes on to Merge), and a redelivery of that message, not counted again, wins
// the claim and gets the task token.
func TestCrashAfterLastCount(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	s, _, table := e.countingStore(t)
	if _, err := s.CreateJob(ctx, job("crash", 2), exercises(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartFanOut(ctx, "crash", "tok-crash"); err != nil {
		t.Fatal(err)
	}
	for pos := range 2 {
		if _, _, _, err := s.CountResult(ctx, "crash", storetest.Result(pos), 2, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Crash: no ClaimSignal. CheckJob compares done.N and total.N.
	m := meta(t, e, table, "crash")
	if numAttr(m, "done") != numAttr(m, "total") || numAttr(m, "done") != "2" {
		t.Fatalf("META done %s total %s: CheckJob would not go on to Merge", numAttr(m, "done"), numAttr(m, "total"))
	}
	if _, ok := m["signalled"]; ok {
		t.Fatal("signalled set although nobody claimed")
	}
	// The redelivery of the last message.
	counted, done, total, err := s.CountResult(ctx, "crash", storetest.Result(1), 2, "", nil)
	if err != nil || counted || done != total {
		t.Fatalf("redelivery = %v, %d/%d, %v; want not counted, complete", counted, done, total, err)
	}
	tok, won, err := s.ClaimSignal(ctx, "crash")
	if err != nil || !won || tok != "tok-crash" {
		t.Fatalf("ClaimSignal after the redelivery = %q, %v, %v", tok, won, err)
	}
	if _, won, _ := s.ClaimSignal(ctx, "crash"); won {
		t.Fatal("the signal was won twice")
	}
}

// halfUnprocessed answers the first calls of BatchGetItem for only the first half of
// their keys, returning the rest as UnprocessedKeys, as DynamoDB does past 16 MB or
// under throttling.
type halfUnprocessed struct {
	dynamo.API
	mu    sync.Mutex
	left  int
	sizes []int
}

func (h *halfUnprocessed) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for table, ka := range in.RequestItems {
		h.sizes = append(h.sizes, len(ka.Keys))
		if h.left == 0 || len(ka.Keys) < 2 {
			break
		}
		h.left--
		half := len(ka.Keys) / 2
		first := ka
		first.Keys = ka.Keys[:half]
		out, err := h.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{table: first}}, o...)
		if err != nil {
			return nil, err
		}
		rest := ka
		rest.Keys = ka.Keys[half:]
		out.UnprocessedKeys = map[string]types.KeysAndAttributes{table: rest}
		return out, nil
	}
	return h.API.BatchGetItem(ctx, in, o...)
}

func TestCacheGetMany(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	table := newTable(t, e.srv)
	h := &halfUnprocessed{API: mototest.NewSerialDynamoDB(e.client, new(sync.Mutex)), left: 2}
	s := dynamo.New(h, table)
	clock := &fakeClock{now: time.Date(2025, 6, 14, 9, 0, 0, 0, time.UTC)}
	s.Clock = clock
	s.CacheTTL = time.Hour
	a := storetest.Result(0).Analysis
	if err := s.CachePut(ctx, "expired", a); err != nil {
		t.Fatal(err)
	}
	clock.mu.Lock()
	clock.now = clock.now.Add(2 * time.Hour)
	clock.mu.Unlock()
	var keys []string
	want := map[string]bool{}
	for i := range 250 {
		k := fmt.Sprintf("key-%03d", i)
		keys = append(keys, k)
		if i%2 == 0 {
			b := a
			b.Topic = k
			if err := s.CachePut(ctx, k, b); err != nil {
				t.Fatal(err)
			}
			want[k] = true
		}
	}
	keys = append(keys, "expired", "", "key-000", "key-001") // expired, empty, duplicates
	got, err := s.CacheGetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d hits, want %d", len(got), len(want))
	}
	for k := range want {
		if got[k].Topic != k {
			t.Fatalf("hit %s = topic %q", k, got[k].Topic)
		}
	}
	// 251 distinct keys: 100 + 100 + 51; the first two calls answer half their keys,
	// so the first chunk takes three calls (100, its last 50, their last 25).
	if wantSizes := []int{100, 50, 25, 100, 51}; !slices.Equal(h.sizes, wantSizes) {
		t.Fatalf("BatchGetItem calls of %v keys, want %v", h.sizes, wantSizes)
	}
	if got, err := s.CacheGetMany(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("CacheGetMany(nil) = %v, %v", got, err)
	}

	// Unprocessed forever: a transient error after MaxAttempts.
	h2 := &halfUnprocessed{API: mototest.NewSerialDynamoDB(e.client, new(sync.Mutex)), left: 100}
	s2 := dynamo.New(h2, table)
	s2.Clock = clock
	s2.MaxAttempts = 3
	if _, err := s2.CacheGetMany(ctx, keys); examina.KindOf(err) != examina.KindTransient {
		t.Fatalf("CacheGetMany with keys never processed: %v, want transient", err)
	}
}
