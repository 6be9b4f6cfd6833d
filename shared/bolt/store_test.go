package bolt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/testkit/storetest"
	bbolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), t.TempDir(), Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) examina.Store { return openTemp(t) })
}

func TestOpenCreatesDirAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "store")
	s, err := Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := filepath.Join(dir, "examina.db"); s.Path() != want {
		t.Errorf("Path() = %q, want %q", s.Path(), want)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("db file mode = %v, want 0600", perm)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !di.IsDir() || di.Mode().Perm()&0o077 != 0 {
		t.Errorf("store dir mode = %v, want a directory private to its owner", di.Mode())
	}
}

func TestOpenErrors(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbageDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbageDir, FileName), bytes.Repeat([]byte("not a bolt file "), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name string
		ctx  context.Context
		dir  string
		kind examina.Kind
		is   error
	}{
		{"empty dir", t.Context(), "", examina.KindInvalid, nil},
		{"dir is a file", t.Context(), notADir, examina.KindOther, nil},
		{"not a bolt file", t.Context(), garbageDir, examina.KindPermanent, nil},
		{"cancelled context", cancelled, t.TempDir(), examina.KindOther, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.ctx, tc.dir, Options{Timeout: 50 * time.Millisecond})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if got := examina.KindOf(err); got != tc.kind {
				t.Errorf("kind = %v, want %v (err %v)", got, tc.kind, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), "bolt.Open: ") {
				t.Errorf("error %q does not name the operation", err)
			}
		})
	}
}

func TestSecondOpenConflicts(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	defer s.Close()

	const timeout = 100 * time.Millisecond
	start := time.Now()
	s2, err := Open(t.Context(), dir, Options{Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a locked store succeeded")
	}
	if k := examina.KindOf(err); k != examina.KindConflict {
		t.Errorf("kind = %v, want conflict (err %v)", k, err)
	}
	want := fmt.Sprintf("store %s is in use by another examina process", s.Path())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if elapsed > timeout+2*time.Second {
		t.Errorf("second Open took %v with a %v timeout", elapsed, timeout)
	}

	// A context deadline shorter than the timeout bounds the wait too.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if s3, err := Open(ctx, dir, Options{Timeout: time.Hour}); err == nil {
		s3.Close()
		t.Fatal("Open with a short deadline succeeded")
	} else if examina.KindOf(err) != examina.KindConflict {
		t.Errorf("kind = %v, want conflict (err %v)", examina.KindOf(err), err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Open with a 50ms deadline and a 1h timeout took %v", elapsed)
	}

	// Once closed, the directory can be opened again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s4, err := Open(t.Context(), dir, Options{Timeout: timeout})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s4.Close()
}

func TestReopenAfterClose(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	job := storetest.Job("job1", time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC))
	out := storetest.Output("job1")
	rs := []examina.ExerciseResult{storetest.Result(2), storetest.Result(0), storetest.Result(1)}
	must(t, s.PutJob(ctx, job))
	must(t, s.PutResults(ctx, "job1", rs))
	must(t, s.PutOutput(ctx, out))
	must(t, s.CachePut(ctx, "k", rs[0].Analysis))
	must(t, s.Close())
	must(t, s.Close()) // closing twice is harmless

	if _, err := s.GetJob(ctx, "job1"); examina.KindOf(err) != examina.KindInternal {
		t.Errorf("GetJob on a closed store: %v (kind %v), want kind internal", err, examina.KindOf(err))
	}
	if err := s.PutJob(ctx, job); examina.KindOf(err) != examina.KindInternal {
		t.Errorf("PutJob on a closed store: %v (kind %v), want kind internal", err, examina.KindOf(err))
	}

	s = mustOpen(t, dir)
	defer s.Close()
	checkContents(t, s, job, out, rs[0].Analysis, 3)
}

// TestCopyOfOpenStore checks that the file on disk holds every committed write while the
// store is still open and no write transaction is in flight: what a crash at that moment
// would leave behind.
func TestCopyOfOpenStore(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	job := storetest.Job("job1", time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC))
	out := storetest.Output("job1")
	must(t, s.PutJob(ctx, job))
	for p := range 3 {
		must(t, s.PutResult(ctx, "job1", storetest.Result(p)))
	}
	must(t, s.PutOutput(ctx, out))
	must(t, s.CachePut(ctx, "k", storetest.Result(0).Analysis))

	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, dir)
	defer c.Close()
	checkContents(t, c, job, out, storetest.Result(0).Analysis, 3)
}

const (
	crashDirEnv = "EXAMINA_BOLT_CRASH_DIR"
	crashBatch  = 10
)

// TestCrashChild is the process TestKillDuringWrites kills: it writes batches forever,
// printing the number of each batch once PutResults has returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestKillDuringWrites")
	}
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for b := 0; ; b++ {
		rs := make([]examina.ExerciseResult, crashBatch)
		for i := range rs {
			rs[i] = storetest.Result(b*crashBatch + i)
		}
		if err := s.PutResults(ctx, "job", rs); err != nil {
			fmt.Println("put:", err)
			os.Exit(2)
		}
		fmt.Println(b)
	}
}

// TestKillDuringWrites kills (SIGKILL) a process in the middle of a stream of batched
// writes and checks that the store reopens with every acknowledged batch, and only whole
// batches.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child: %s", sc.Text())
		}
		acked = n
		if acked >= 20 {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, stdout)
	_ = cmd.Wait()
	if acked < 20 {
		t.Fatalf("child acknowledged only %d batches before exiting", acked+1)
	}

	s := mustOpen(t, dir)
	defer s.Close()
	rs, err := s.Results(t.Context(), "job")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) < (acked+1)*crashBatch {
		t.Errorf("after kill: %d results, want at least the %d acknowledged", len(rs), (acked+1)*crashBatch)
	}
	if len(rs)%crashBatch != 0 {
		t.Errorf("after kill: %d results, not a whole number of %d-result batches", len(rs), crashBatch)
	}
	for i, r := range rs {
		if d := storetest.Diff(r, storetest.Result(i)); d != "" {
			t.Fatalf("result %d after kill: %s", i, d)
		}
	}
	if err := s.db.View(func(tx *bbolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain: the checker goroutine sends every error
			if first == nil {
				first = err
			}
		}
		return first
	}); err != nil {
		t.Errorf("consistency check after kill: %v", err)
	}
}

func TestPutResults(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	must(t, s.PutResult(ctx, "job", storetest.Result(5)))

	batch := []examina.ExerciseResult{storetest.Result(3), storetest.Result(1), storetest.Result(2)}
	dup := storetest.Result(1)
	dup.Text = "the later duplicate wins"
	batch = append(batch, dup)
	must(t, s.PutResults(ctx, "job", batch))
	must(t, s.PutResults(ctx, "job", nil))

	rs, err := s.Results(ctx, "job")
	must(t, err)
	want := []examina.ExerciseResult{dup, storetest.Result(2), storetest.Result(3), storetest.Result(5)}
	if d := storetest.Diff(rs, want); d != "" {
		t.Fatalf("Results after PutResults: %s", d)
	}

	// One invalid result rejects the whole batch.
	bad := storetest.Result(-1)
	err = s.PutResults(ctx, "job", []examina.ExerciseResult{storetest.Result(7), bad})
	if examina.KindOf(err) != examina.KindInvalid {
		t.Errorf("PutResults with a negative position: %v, want kind invalid", err)
	}
	rs, err = s.Results(ctx, "job")
	must(t, err)
	if len(rs) != 4 {
		t.Errorf("a rejected batch was partly written: %d results, want 4", len(rs))
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, b := range [][]examina.ExerciseResult{nil, {storetest.Result(8)}} {
		if err := s.PutResults(cancelled, "job", b); !errors.Is(err, context.Canceled) {
			t.Errorf("PutResults(%d results) with a cancelled context: %v", len(b), err)
		}
	}
	if err := s.PutResults(ctx, "", nil); examina.KindOf(err) != examina.KindInvalid {
		t.Errorf("PutResults with an empty job id: %v, want kind invalid", err)
	}
}

func TestInvalidInputBolt(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	nan := storetest.Result(0)
	nan.Analysis.Confidence = math.NaN()
	tooFar := storetest.Result(MaxPosition + 1)
	tests := []struct {
		name string
		call func() error
	}{
		{"PutJob id with #", func() error { return s.PutJob(ctx, examina.Job{ID: "a#b"}) }},
		{"GetJob id with #", func() error { _, err := s.GetJob(ctx, "a#b"); return err }},
		{"PutResult job id with #", func() error { return s.PutResult(ctx, "a#1", storetest.Result(0)) }},
		{"Results job id with #", func() error { _, err := s.Results(ctx, "a#"); return err }},
		{"DeleteResults job id with #", func() error { return s.DeleteResults(ctx, "#") }},
		{"PutResult position too large", func() error { return s.PutResult(ctx, "job", tooFar) }},
		{"PutResult NaN confidence", func() error { return s.PutResult(ctx, "job", nan) }},
		{"CachePut NaN confidence", func() error { return s.CachePut(ctx, "k", nan.Analysis) }},
		{"CacheGet empty key", func() error { _, _, err := s.CacheGet(ctx, ""); return err }},
		{"GetOutput empty id", func() error { _, err := s.GetOutput(ctx, ""); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if examina.KindOf(err) != examina.KindInvalid {
				t.Errorf("error = %v (kind %v), want kind invalid", err, examina.KindOf(err))
			}
		})
	}
	// A key longer than bbolt's limit is translated at the edge.
	err := s.CachePut(ctx, strings.Repeat("k", bbolt.MaxKeySize+1), storetest.Result(0).Analysis)
	if examina.KindOf(err) != examina.KindInvalid || !strings.HasPrefix(err.Error(), "bolt.CachePut: ") {
		t.Errorf("CachePut with a huge key: %v (kind %v), want bolt.CachePut kind invalid", err, examina.KindOf(err))
	}
}

func TestCorruptValue(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	must(t, s.db.Update(func(tx *bbolt.Tx) error {
		must(t, tx.Bucket(bucketJobs).Put([]byte("bad"), []byte("{not json")))
		must(t, tx.Bucket(bucketResults).Put(resultKey("bad", 0), []byte("[")))
		must(t, tx.Bucket(bucketOutputs).Put([]byte("bad"), []byte("1")))
		return tx.Bucket(bucketCache).Put([]byte("bad"), []byte(`{"confidence":"high"}`))
	}))
	tests := []struct {
		name string
		call func() error
	}{
		{"GetJob", func() error { _, err := s.GetJob(ctx, "bad"); return err }},
		{"ListJobs", func() error { _, err := s.ListJobs(ctx); return err }},
		{"Results", func() error { _, err := s.Results(ctx, "bad"); return err }},
		{"GetOutput", func() error { _, err := s.GetOutput(ctx, "bad"); return err }},
		{"CacheGet", func() error { _, _, err := s.CacheGet(ctx, "bad"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if examina.KindOf(err) != examina.KindInternal || !strings.HasPrefix(err.Error(), "bolt."+tc.name+": ") {
				t.Errorf("error = %v (kind %v), want bolt.%s kind internal", err, examina.KindOf(err), tc.name)
			}
		})
	}
}

func TestResultKeyLayout(t *testing.T) {
	tests := []struct {
		job  string
		pos  int
		want string
	}{
		{"job1", 0, "job1#00000000"},
		{"job1", 10, "job1#00000010"},
		{"job10", 1000, "job10#00001000"},
		{"ADE-2025-06-14T09:30:15Z-abc", MaxPosition, "ADE-2025-06-14T09:30:15Z-abc#99999999"},
	}
	for _, tc := range tests {
		if got := string(resultKey(tc.job, tc.pos)); got != tc.want {
			t.Errorf("resultKey(%q, %d) = %q, want %q", tc.job, tc.pos, got, tc.want)
		}
	}
}

// FuzzResultKey checks the two properties the key layout relies on, for any valid job
// ids and positions: byte order is position order within a job, and one job's prefix
// scan never reaches another job's keys.
func FuzzResultKey(f *testing.F) {
	f.Add("job1", "job10", 2, 10)
	f.Add("job", "job#", 0, MaxPosition)
	f.Add("a", "a", 9, 10)
	f.Fuzz(func(t *testing.T, jobA, jobB string, posA, posB int) {
		if checkID("fuzz", jobA) != nil || checkID("fuzz", jobB) != nil {
			return
		}
		posA, posB = clampPos(posA), clampPos(posB)
		ka, kb := resultKey(jobA, posA), resultKey(jobB, posB)
		if jobA == jobB {
			if c := bytes.Compare(ka, kb); c != cmpInt(posA, posB) {
				t.Errorf("keys %q and %q compare %d, positions %d and %d", ka, kb, c, posA, posB)
			}
			return
		}
		if bytes.HasPrefix(kb, resultPrefix(jobA)) {
			t.Errorf("key %q of job %q is inside the prefix scan of job %q", kb, jobB, jobA)
		}
		if bytes.HasPrefix(ka, resultPrefix(jobB)) {
			t.Errorf("key %q of job %q is inside the prefix scan of job %q", ka, jobA, jobB)
		}
	})
}

func clampPos(p int) int {
	if p < 0 {
		p = -(p + 1)
	}
	return p % (MaxPosition + 1)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkContents(t *testing.T, s *Store, job examina.Job, out examina.Result, cached examina.Analysis, nResults int) {
	t.Helper()
	ctx := t.Context()
	got, err := s.GetJob(ctx, job.ID)
	must(t, err)
	if d := storetest.Diff(got, job); d != "" {
		t.Errorf("job: %s", d)
	}
	rs, err := s.Results(ctx, job.ID)
	must(t, err)
	if len(rs) != nResults {
		t.Errorf("%d results, want %d", len(rs), nResults)
	}
	for i, r := range rs {
		if d := storetest.Diff(r, storetest.Result(i)); d != "" {
			t.Errorf("result %d: %s", i, d)
		}
	}
	gotOut, err := s.GetOutput(ctx, job.ID)
	must(t, err)
	if d := storetest.Diff(gotOut, out); d != "" {
		t.Errorf("output: %s", d)
	}
	a, ok, err := s.CacheGet(ctx, "k")
	must(t, err)
	if !ok {
		t.Error("cache entry missing")
	} else if d := storetest.Diff(a, cached); d != "" {
		t.Errorf("cache entry: %s", d)
	}
}

func mustOpen(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dir, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPutBatch(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs := []examina.ExerciseResult{storetest.Result(3), storetest.Result(1)}
	cache := map[string]examina.Analysis{"k1": rs[0].Analysis, "k2": rs[1].Analysis}
	if err := st.PutBatch(ctx, "job-a", rs, cache); err != nil {
		t.Fatal(err)
	}
	got, err := st.Results(ctx, "job-a")
	if err != nil || len(got) != 2 || got[0].Position != 1 || got[1].Position != 3 {
		t.Fatalf("Results after PutBatch = %v, %v", got, err)
	}
	for k := range cache {
		if _, ok, err := st.CacheGet(ctx, k); !ok || err != nil {
			t.Fatalf("cache %s missing after PutBatch: %v", k, err)
		}
	}
	// An invalid entry writes nothing.
	bad := map[string]examina.Analysis{"": {}}
	if err := st.PutBatch(ctx, "job-b", rs, bad); examina.KindOf(err) != examina.KindInvalid {
		t.Fatalf("PutBatch with an empty cache key = %v, want KindInvalid", err)
	}
	if got, _ := st.Results(ctx, "job-b"); len(got) != 0 {
		t.Fatalf("a rejected batch wrote %d results", len(got))
	}
}
