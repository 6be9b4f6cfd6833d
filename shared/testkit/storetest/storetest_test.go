package storetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// refStore is a minimal map-based examina.Store used to test the suite itself. Each
// flag turns one rule off, giving a store the suite must reject.
type refStore struct {
	noSort       bool // Results in insertion order
	textSort     bool // Results sorted by the unpadded decimal position
	sharedValues bool // keep and return the caller's values without copying
	ignoreCtx    bool // never look at the context
	oldestFirst  bool // ListJobs oldest first
	looseKeys    bool // Results matches results by job-id prefix

	mu      sync.Mutex
	jobs    map[string]examina.Job
	results map[string]examina.ExerciseResult // key jobID + "#" + position
	order   []string                          // result keys in insertion order
	outputs map[string]examina.Result
	cache   map[string]examina.Analysis
}

func newRef() *refStore {
	return &refStore{
		jobs: map[string]examina.Job{}, results: map[string]examina.ExerciseResult{},
		outputs: map[string]examina.Result{}, cache: map[string]examina.Analysis{},
	}
}

func (s *refStore) check(ctx context.Context) error {
	if s.ignoreCtx {
		return nil
	}
	return ctx.Err()
}

// cp deep-copies v through JSON unless the store is meant to share values.
func cp[T any](s *refStore, v T) T {
	if s.sharedValues {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func invalid(what string) error { return examina.E("ref", examina.KindInvalid, "%s", what) }

func (s *refStore) PutJob(ctx context.Context, j examina.Job) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if j.ID == "" {
		return invalid("empty id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[j.ID] = cp(s, j)
	return nil
}

func (s *refStore) GetJob(ctx context.Context, id string) (examina.Job, error) {
	if err := s.check(ctx); err != nil {
		return examina.Job{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return examina.Job{}, fmt.Errorf("job %q: %w", id, examina.ErrNotFound)
	}
	return cp(s, j), nil
}

func (s *refStore) ListJobs(ctx context.Context) ([]examina.Job, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var js []examina.Job
	for _, j := range s.jobs {
		js = append(js, cp(s, j))
	}
	slices.SortFunc(js, func(a, b examina.Job) int {
		c := b.CreatedAt.Compare(a.CreatedAt)
		if s.oldestFirst {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.ID, b.ID))
	})
	return js, nil
}

func (s *refStore) PutResult(ctx context.Context, jobID string, r examina.ExerciseResult) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if jobID == "" || r.Position < 0 {
		return invalid("bad job id or position")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := jobID + "#" + strconv.Itoa(r.Position)
	if _, ok := s.results[k]; !ok {
		s.order = append(s.order, k)
	}
	s.results[k] = cp(s, r)
	return nil
}

func (s *refStore) Results(ctx context.Context, jobID string) ([]examina.ExerciseResult, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := jobID + "#"
	if s.looseKeys {
		prefix = jobID
	}
	var keys []string
	for _, k := range s.order {
		if _, ok := s.results[k]; ok && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	switch {
	case s.textSort:
		slices.Sort(keys)
	case !s.noSort:
		slices.SortFunc(keys, func(a, b string) int {
			return cmp.Compare(s.results[a].Position, s.results[b].Position)
		})
	}
	rs := []examina.ExerciseResult{}
	for _, k := range keys {
		rs = append(rs, cp(s, s.results[k]))
	}
	return rs, nil
}

func (s *refStore) DeleteResults(ctx context.Context, jobID string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.results {
		if strings.HasPrefix(k, jobID+"#") {
			delete(s.results, k)
		}
	}
	s.order = slices.DeleteFunc(s.order, func(k string) bool { _, ok := s.results[k]; return !ok })
	return nil
}

func (s *refStore) PutOutput(ctx context.Context, res examina.Result) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if res.JobID == "" {
		return invalid("empty job id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outputs[res.JobID] = cp(s, res)
	return nil
}

func (s *refStore) GetOutput(ctx context.Context, jobID string) (examina.Result, error) {
	if err := s.check(ctx); err != nil {
		return examina.Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.outputs[jobID]
	if !ok {
		return examina.Result{}, fmt.Errorf("output %q: %w", jobID, examina.ErrNotFound)
	}
	return cp(s, o), nil
}

func (s *refStore) CacheGet(ctx context.Context, key string) (examina.Analysis, bool, error) {
	if err := s.check(ctx); err != nil {
		return examina.Analysis{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.cache[key]
	return cp(s, a), ok, nil
}

func (s *refStore) CachePut(ctx context.Context, key string, a examina.Analysis) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if key == "" {
		return invalid("empty key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache[key] = cp(s, a)
	return nil
}

// brokenStores maps a flaw to the subtest that must catch it.
var brokenStores = []struct {
	flaw    string
	catchBy string
	apply   func(*refStore)
}{
	{"unsorted results", "ResultsPositionOrder", func(s *refStore) { s.noSort = true }},
	{"text-sorted positions", "ResultsPositionOrder", func(s *refStore) { s.textSort = true }},
	{"shared values", "ValuesCopied", func(s *refStore) { s.sharedValues = true }},
	{"ignores context", "CancelledContext", func(s *refStore) { s.ignoreCtx = true }},
	{"oldest first", "ListJobsNewestFirst", func(s *refStore) { s.oldestFirst = true }},
	{"job id prefix leak", "ResultsIsolatedByJob", func(s *refStore) { s.looseKeys = true }},
}

const brokenEnv = "STORETEST_BROKEN"

func TestReferenceStorePasses(t *testing.T) {
	Run(t, func(*testing.T) examina.Store { return newRef() })
}

// TestBrokenChild runs the suite against the broken store named by $STORETEST_BROKEN; it
// is started by TestSuiteCatchesBrokenStores and expected to fail.
func TestBrokenChild(t *testing.T) {
	flaw := os.Getenv(brokenEnv)
	if flaw == "" {
		t.Skip("helper process for TestSuiteCatchesBrokenStores")
	}
	for _, b := range brokenStores {
		if b.flaw == flaw {
			Run(t, func(*testing.T) examina.Store { s := newRef(); b.apply(s); return s })
			return
		}
	}
	t.Fatalf("unknown flaw %q", flaw)
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, b := range brokenStores {
		t.Run(b.flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenChild$/^"+b.catchBy+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+b.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with flaw %q:\n%s", b.flaw, out)
			}
			if want := "--- FAIL: TestBrokenChild/" + b.catchBy + " "; !strings.Contains(string(out), want) {
				t.Errorf("flaw %q not caught by %s:\n%s", b.flaw, b.catchBy, out)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	at := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		got, want any
		wantDiff  string // "" for equal, else a substring of the description
	}{
		{"equal results", Result(3), Result(3), ""},
		{"nil vs empty slice", examina.Job{Problems: nil}, examina.Job{Problems: []string{}}, ""},
		{"same instant, other zone", examina.Job{CreatedAt: at}, examina.Job{CreatedAt: at.In(time.FixedZone("X", 3600))}, ""},
		{"other instant", examina.Job{CreatedAt: at}, examina.Job{CreatedAt: at.Add(time.Nanosecond)}, ".CreatedAt"},
		{"nested string", Output("a"), func() examina.Result { o := Output("a"); o.Exercises[1].Analysis.AttemptLog[0].Outcome = "x"; return o }(), ".Exercises[1].Analysis.Meta.AttemptLog[0].Outcome"},
		{"slice length", []int{1}, []int{1, 2}, "length 1, want 2"},
		{"bool", examina.Analysis{IsFragment: true}, examina.Analysis{}, ".IsFragment"},
		{"float", examina.Analysis{Confidence: 0.5}, examina.Analysis{Confidence: 0.25}, ".Confidence"},
		{"int64", examina.Meta{LatencyMS: 1}, examina.Meta{LatencyMS: 2}, ".LatencyMS"},
		{"types", 1, "1", "type"},
		{"map", map[string]int{"a": 1}, map[string]int{"a": 2}, "[a]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Diff(tc.got, tc.want)
			if tc.wantDiff == "" && d != "" {
				t.Errorf("Diff = %q, want equal", d)
			}
			if tc.wantDiff != "" && !strings.Contains(d, tc.wantDiff) {
				t.Errorf("Diff = %q, want one mentioning %q", d, tc.wantDiff)
			}
		})
	}
}
