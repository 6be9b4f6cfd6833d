package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

// run drives the CLI exactly as the binary does, with a clean environment.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{
		Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
		Now:    time.Now,
	}
	code = m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

const example = "../../examples/ade.json"

func TestAnalyzeExampleThenResume(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	out := filepath.Join(dir, "result.json")
	code, stdout, stderr := run(t, nil, "analyze", "--input", example, "--store", store, "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"exercises in", "merged groups", "invalid dropped", "degraded", "low-confidence skipped", "topics", "core loops", "elapsed", "provider calls", "cache hits", "heuristic"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "provider: offline") {
		t.Errorf("stderr does not say which provider was picked:\n%s", stderr)
	}
	var res examina.Result
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Stats.Exercises < 25 || res.Stats.ProviderCalls != res.Stats.Exercises || res.Stats.Invalid == 0 ||
		res.Stats.MergedGroups >= res.Stats.Exercises-res.Stats.Invalid || len(res.Topics) < 6 {
		t.Fatalf("unexpected first-run stats %+v, %d topics", res.Stats, len(res.Topics))
	}
	for _, key := range []string{`"job_id"`, `"prompt_version"`, `"merged_exercises"`, `"merged_from"`, `"core_loops"`, `"low_confidence_skipped"`, `"exercise_count"`} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("result file lacks the contract key %s", key)
		}
	}

	code, stdout, _ = run(t, nil, "analyze", "--input", example, "--store", store, "--out", out)
	if code != exitOK || !strings.Contains(stdout, "No provider calls") || !strings.Contains(stdout, "already analysed") {
		t.Fatalf("second run: exit %d, want 0 and a line saying why no calls were made:\n%s", code, stdout)
	}

	code, stdout, _ = run(t, nil, "jobs", "--store", store)
	if code != exitOK || !strings.Contains(stdout, res.JobID) || !strings.Contains(stdout, "completed") {
		t.Fatalf("jobs: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = run(t, nil, "results", res.JobID, "--store", store, "--format", "table")
	if code != exitOK || !strings.Contains(stdout, "merged groups") {
		t.Fatalf("results JOB --format table (flags after the job id): exit %d\n%s", code, stdout)
	}
	code, stdout, _ = run(t, nil, "results", "--store", store, res.JobID)
	var again examina.Result
	if code != exitOK || json.Unmarshal([]byte(stdout), &again) != nil || again.JobID != res.JobID || len(again.MergedExercises) != len(res.MergedExercises) {
		t.Fatalf("results: exit %d, output does not round-trip", code)
	}
	if code, _, _ := run(t, nil, "results", "--store", store, "nope-000000000000"); code != exitUsage {
		t.Fatalf("results of an unknown job: exit %d, want %d", code, exitUsage)
	}
}

func TestMalformedFileStoresNothing(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	// A first, valid run so the store exists and has content.
	if code, _, stderr := run(t, nil, "analyze", "--input", example, "--store", store, "--quiet"); code != exitOK {
		t.Fatalf("valid run: exit %d: %s", code, stderr)
	}
	before, err := os.ReadFile(filepath.Join(store, "examina.db"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"course": {"code": "X", "name": "Y"}, "exercises": [{"text": ""}, {"text": 5}, {"id": "a", "text": "ok"}, {"id": "a", "text": "ok too"}, 7]}`), 0o644)
	code, _, stderr := run(t, nil, "analyze", "--input", bad, "--store", store)
	if code != exitUsage {
		t.Fatalf("malformed file: exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"exercises[0].text", "exercises[1].text", "exercises[3].id", "exercises[4]", "4 problem(s)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	after, err := os.ReadFile(filepath.Join(store, "examina.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("a rejected course file changed the store")
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{nil, nil, exitUsage, "Usage"},
		{[]string{"--help"}, nil, exitOK, "analyze"},
		{[]string{"--version"}, nil, exitOK, "examina "},
		{[]string{"analyze", "--help"}, nil, exitOK, "-batch-size"},
		{[]string{"results", "--help"}, nil, exitOK, "-store"},
		{[]string{"jobs", "--help"}, nil, exitOK, "-format"},
		{[]string{"frobnicate"}, nil, exitUsage, "unknown command"},
		{[]string{"analyze"}, nil, exitUsage, "--input is required"},
		{[]string{"analyze", "--input", example, "--batch-size", "0"}, nil, exitUsage, "--batch-size"},
		{[]string{"analyze", "--input", example, "--format", "xml"}, nil, exitUsage, "--format"},
		{[]string{"analyze", "--input", example, "--provider", "nope"}, nil, exitUsage, "unknown --provider"},
		{[]string{"analyze", "--input", example, "--lang", "fr"}, nil, exitUsage, "--lang"},
		{[]string{"analyze", "--input", example, "--provider", "simulated", "--fail-kinds", "boom"}, nil, exitUsage, "--fail-kinds"},
		{[]string{"analyze", "--input", "does-not-exist.json"}, nil, exitUsage, "does-not-exist.json"},
		{[]string{"analyze", "--bogus"}, nil, exitUsage, "bogus"},
		{[]string{"analyze", "--input", example, "--provider", "offline", "--base-url", "http://localhost:8080/v1"}, nil, exitUsage, "base URL"},
		{[]string{"analyze", "--input", example, "--provider", "ollama", "--base-url", "http://localhost:11434/v1"}, nil, exitUsage, "--provider openai"},
		{[]string{"analyze", "--input", example}, map[string]string{"EXAMINA_BATCH_SIZE": "ten"}, exitUsage, "EXAMINA_BATCH_SIZE"},
		{[]string{"analyze", "--input", example}, map[string]string{"EXAMINA_TIMEOUT": "5"}, exitUsage, "EXAMINA_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d (want %d); output lacks %q:\n%s%s", code, tt.code, tt.want, stdout, stderr)
			}
		})
	}
}

func TestBatchSizeFromEnvironmentAndFlag(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EXAMINA_BATCH_SIZE": "3", "EXAMINA_STORE": filepath.Join(dir, "s")}
	m := &Main{Stdout: new(bytes.Buffer), Stderr: new(bytes.Buffer), Getenv: func(k string) string { return env[k] }, Now: time.Now}
	fs := m.newFlagSet("analyze", "")
	c := m.analyzeFlags(fs)
	if err := fs.Parse(nil); err != nil || c.batchSize != 3 || c.store != env["EXAMINA_STORE"] {
		t.Fatalf("env: batch %d store %q err %v", c.batchSize, c.store, err)
	}
	fs = m.newFlagSet("analyze", "")
	c = m.analyzeFlags(fs)
	if err := fs.Parse([]string{"--batch-size", "7"}); err != nil || c.batchSize != 7 {
		t.Fatalf("flag must win over env: batch %d err %v", c.batchSize, err)
	}
}

func TestSimulatedJSONOutput(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := run(t, nil, "analyze", "--input", example, "--store", filepath.Join(dir, "s"),
		"--provider", "simulated", "--latency", "1ms", "--jitter", "1ms", "--format", "json", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res examina.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--format json does not print the result document: %v", err)
	}
	if res.Provider != "simulated" || res.Stats.Degraded != 0 || res.Stats.ProviderCalls != res.Stats.Exercises {
		t.Fatalf("unexpected result: provider %s stats %+v", res.Provider, res.Stats)
	}
}

// TestOpenAICompatibleServer runs the documented command against a fake
// OpenAI-compatible server: --provider openai --base-url URL, with a key from the
// environment that must reach the server and never the output.
func TestOpenAICompatibleServer(t *testing.T) {
	const key = "sk-test-CLI-LEAKCHECK-0123456789"
	srv := fakeopenai.New(fakeopenai.Config{APIKey: key})
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "result.json")
	env := map[string]string{"OPENAI_API_KEY": key}
	code, stdout, stderr := run(t, env, "analyze", "--input", example, "--store", filepath.Join(dir, "s"),
		"--provider", "openai", "--base-url", srv.BaseURL(), "--model", "local-model", "--out", out, "--log-level", "debug")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	reqs := srv.Requests()
	var res examina.Result
	data, _ := os.ReadFile(out)
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if len(reqs) != res.Stats.Exercises || res.Stats.ProviderCalls != res.Stats.Exercises || res.Stats.Degraded != 0 {
		t.Fatalf("%d requests, stats %+v", len(reqs), res.Stats)
	}
	for _, r := range reqs {
		if r.Path != "/v1/chat/completions" || r.Model != "local-model" || r.Header.Get("Authorization") != "Bearer "+key {
			t.Fatalf("request %s model %q auth %q", r.Path, r.Model, r.Header.Get("Authorization"))
		}
	}
	if res.Provider != "openai" || res.Model != "local-model" {
		t.Fatalf("result provider %s model %s", res.Provider, res.Model)
	}
	for name, text := range map[string]string{"stdout": stdout, "stderr": stderr, "result": string(data)} {
		if strings.Contains(text, key) {
			t.Fatalf("the API key leaked into %s", name)
		}
	}
}

func TestFlagsFirst(t *testing.T) {
	m := &Main{Stdout: new(bytes.Buffer), Stderr: new(bytes.Buffer), Getenv: func(string) string { return "" }, Now: time.Now}
	fs := m.newFlagSet("analyze", "")
	m.analyzeFlags(fs)
	tests := []struct{ in, want []string }{
		{[]string{"f.json", "--batch-size", "3"}, []string{"--batch-size", "3", "--", "f.json"}},
		{[]string{"--force", "f.json", "--sequential"}, []string{"--force", "--sequential", "--", "f.json"}},
		{[]string{"--out=x.json", "f.json"}, []string{"--out=x.json", "--", "f.json"}},
		{[]string{"--input", "f.json"}, []string{"--input", "f.json"}},
		{[]string{"--bogus", "f.json"}, []string{"--bogus", "--", "f.json"}},
		{[]string{"a", "--", "--b"}, []string{"--", "a", "--b"}},
	}
	for _, tt := range tests {
		if got := flagsFirst(fs, tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("flagsFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEveryExerciseDegradedFails: a provider that fails every call (a bad key) gives
// a stored, resumable result but exit code 1 and the first error, not a silent success.
func TestEveryExerciseDegradedFails(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := run(t, nil, "analyze", "--input", example, "--store", filepath.Join(dir, "s"), "--quiet",
		"--provider", "simulated", "--latency", "0s", "--jitter", "0s", "--fail-rate", "1", "--fail-kinds", "401")
	if code != exitRun || !strings.Contains(stderr, "failed every exercise") || !strings.Contains(stdout, "first error") {
		t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, exitRun, stdout, stderr)
	}
}

// TestSomeExercisesDegradedExit3: a finished run with degraded exercises exits 3 (not
// 0, which said nothing of them) and says how to retry them; retrying them with a
// working provider exits 0.
func TestSomeExercisesDegradedExit3(t *testing.T) {
	store := filepath.Join(t.TempDir(), "s")
	srv := fakeopenai.New(fakeopenai.Config{Respond: func(n int, r fakeopenai.Request) fakeopenai.Answer {
		if n%3 == 0 {
			return fakeopenai.Answer{Status: 400, Body: `{"error":{"message":"bad request","type":"invalid_request_error"}}`}
		}
		return fakeopenai.Answer{}
	}})
	defer srv.Close()
	args := []string{"analyze", "--input", example, "--store", store, "--quiet", "--provider", "openai", "--base-url", srv.BaseURL(), "--batch-size", "1"}
	code, stdout, stderr := run(t, nil, args...)
	if code != exitDegraded || !strings.Contains(stderr, "exercises degraded") || !strings.Contains(stderr, "--retry-degraded") ||
		!strings.Contains(stdout, "--retry-degraded") {
		t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, exitDegraded, stdout, stderr)
	}
	ok := fakeopenai.New(fakeopenai.Config{})
	defer ok.Close()
	args[len(args)-3] = ok.BaseURL()
	if code, stdout, stderr := run(t, nil, append(args, "--retry-degraded")...); code != exitOK {
		t.Fatalf("--retry-degraded: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestServerGoesAwayAndComesBack: the OpenAI-compatible server is killed after ten
// answers and listens again two seconds later. With --max-pause 0 (no breaker) the
// exercises tried meanwhile degrade; by default the run pauses, probes, resumes and
// degrades nothing.
func TestServerGoesAwayAndComesBack(t *testing.T) {
	for _, tt := range []struct {
		name     string
		maxPause string
		code     int
	}{
		{"no breaker", "0", exitDegraded},
		{"breaker", "5m", exitOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := fakeopenai.NewOutageServer("127.0.0.1:0", fakeopenai.NewHandler(fakeopenai.Config{Latency: 20 * time.Millisecond}), 10, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			dir := t.TempDir()
			out := filepath.Join(dir, "r.json")
			code, stdout, stderr := run(t, nil, "analyze", "--input", example, "--store", filepath.Join(dir, "s"), "--out", out,
				"--provider", "openai", "--base-url", srv.BaseURL(), "--batch-size", "4", "--max-pause", tt.maxPause)
			var res examina.Result
			data, _ := os.ReadFile(out)
			json.Unmarshal(data, &res)
			t.Logf("exit %d, degraded %d of %d, calls %d", code, res.Stats.Degraded, res.Stats.Exercises, res.Stats.ProviderCalls)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if from, to := srv.Outage(); from.IsZero() || to.IsZero() {
				t.Fatal("the outage never happened")
			}
			if tt.code == exitOK && (!strings.Contains(stderr, "paused: the provider is down") || !strings.Contains(stderr, "resumed: the provider answers again")) {
				t.Fatalf("the pause is not shown:\n%s", stderr)
			}
		})
	}
}

// TestWindowBoundedBySlots: a llama-server with 4 slots queues an 8-wide window rather
// than refusing it; the CLI reads /props total_slots and keeps at most 4 calls in
// flight, and says so.
func TestWindowBoundedBySlots(t *testing.T) {
	h := fakeopenai.NewHandler(fakeopenai.Config{Latency: 10 * time.Millisecond, Props: &fakeopenai.Props{NCtx: 3072, TotalSlots: 4}})
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	code, stdout, stderr := run(t, nil, "analyze", "--input", example, "--store", filepath.Join(dir, "s"),
		"--provider", "openai", "--base-url", srv.URL+"/v1", "--batch-size", "8")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if most.Load() > 4 || !strings.Contains(stderr, "decodes 4 requests at once") {
		t.Fatalf("%d calls in flight at most, want ≤ 4 and a note:\n%s", most.Load(), stderr)
	}
	if h.MetadataRequests() != 1 {
		t.Fatalf("/props asked %d times, want once", h.MetadataRequests())
	}
}
