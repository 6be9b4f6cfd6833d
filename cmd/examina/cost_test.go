package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

// pricesFile writes a --prices file pricing the fake server's model.
func pricesFile(t *testing.T, in, out float64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prices.json")
	body, _ := json.Marshal(map[string]any{"providers": map[string]any{"openai": map[string]any{
		"source": "https://example.test/pricing",
		"models": map[string]any{"priced-model": map[string]any{"input_per_mtok": in, "output_per_mtok": out, "checked": "2026-12-01"}}}}})
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDryRunMakesNoCalls(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	args := []string{"analyze", "--input", example, "--store", store, "--provider", "openai", "--base-url", srv.BaseURL(), "--model", "local-model"}

	code, stdout, stderr := run(t, nil, append(args, "--dry-run")...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Fatalf("the dry run made %d provider calls", n)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("the dry run created the store: %v", err)
	}
	for _, want := range []string{"no provider call made", "requests         35", "input tokens", "output tokens", "$0 (runs on this machine)", "expected time", "skipped: stored  0", "skipped: cached  0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, stdout)
		}
	}

	// After a real run everything is stored: the dry run says all of it is skipped.
	if code, stdout, stderr := run(t, nil, args...); code != exitOK {
		t.Fatalf("real run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	calls := srv.Stats().Requests
	code, stdout, _ = run(t, nil, append(args, "--dry-run", "--format", "json")...)
	var rep dryRunReport
	if code != exitOK || json.Unmarshal([]byte(stdout), &rep) != nil {
		t.Fatalf("exit %d, output %s", code, stdout)
	}
	if rep.Resumed != 35 || rep.Requests != 0 || srv.Stats().Requests != calls {
		t.Errorf("after the run: resumed %d requests %d (calls %d → %d), want 35, 0, none", rep.Resumed, rep.Requests, calls, srv.Stats().Requests)
	}
	// --force ignores the store and the cache: everything would be called again.
	code, stdout, _ = run(t, nil, append(args, "--dry-run", "--format", "json", "--force")...)
	if err := json.Unmarshal([]byte(stdout), &rep); code != exitOK || err != nil || rep.Resumed != 0 || rep.Cached != 0 || rep.Requests != 35 {
		t.Errorf("--force dry run: exit %d, %+v", code, rep)
	}
	// A new job over the same texts (one exercise fewer, so another job id) is served
	// by the cache.
	data, _ := os.ReadFile(example)
	var cf map[string]any
	_ = json.Unmarshal(data, &cf)
	exs := cf["exercises"].([]any)
	cf["exercises"] = exs[:len(exs)-1]
	smaller := filepath.Join(dir, "smaller.json")
	data, _ = json.Marshal(cf)
	_ = os.WriteFile(smaller, data, 0o600)
	args[2] = smaller
	code, stdout, _ = run(t, nil, append(args, "--dry-run", "--format", "json")...)
	if err := json.Unmarshal([]byte(stdout), &rep); code != exitOK || err != nil || rep.Resumed != 0 || rep.Cached != 34 || rep.Requests != 0 {
		t.Errorf("dry run of a course of cached texts: exit %d, %+v", code, rep)
	}
	if srv.Stats().Requests != calls {
		t.Errorf("dry runs made %d calls", srv.Stats().Requests-calls)
	}
}

// A dry run needs no API key: it never calls the provider.
func TestDryRunWithoutKey(t *testing.T) {
	code, stdout, stderr := run(t, nil, "analyze", "--input", example, "--store", filepath.Join(t.TempDir(), "s"), "--provider", "groq", "--dry-run")
	if code != exitOK || !strings.Contains(stdout, "groq (openai/gpt-oss-120b)") || !strings.Contains(stdout, "30 requests/min, 8000 tokens/min") ||
		!strings.Contains(stdout, "https://groq.com/pricing") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestMaxCostStopsAndResumes(t *testing.T) {
	// Every answer reports 5000 in and 1000 out tokens: $6 at $1000/$1000 per million.
	srv := fakeopenai.New(fakeopenai.Config{Answers: []fakeopenai.Answer{{InputTokens: 5000, OutputTokens: 1000}}})
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "result.json")
	args := []string{"analyze", "--input", example, "--store", filepath.Join(dir, "s"), "--provider", "openai", "--base-url", srv.BaseURL(),
		"--model", "priced-model", "--prices", pricesFile(t, 1000, 1000), "--batch-size", "2", "--out", out, "--quiet"}

	code, stdout, stderr := run(t, nil, append(args, "--max-cost", "40")...)
	if code != exitRun {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"stopped at the cost cap", "cost cap of $40.00 reached", "of 35 exercises are analysed and stored", "this run spent", "higher --max-cost to resume"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	first := srv.Stats().Requests
	if first == 0 || first >= 35 || first*6 > 40 {
		t.Fatalf("%d calls made under a $40 cap at $6 a call", first)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a capped run wrote a result file")
	}

	// The dry run shows what the job spent so far.
	if code, stdout, _ := run(t, nil, append(args, "--dry-run", "--max-cost", "40")...); code != exitOK ||
		!strings.Contains(stdout, fmt.Sprintf("spent by earlier runs  $%.2f", float64(6*first))) || !strings.Contains(stdout, "price") {
		t.Errorf("dry run after the cap: exit %d\n%s", code, stdout)
	}
	// The cap is the job's: the same cap again makes no call (what was spent counts).
	code, _, stderr = run(t, nil, append(args, "--max-cost", "40")...)
	if code != exitRun || srv.Stats().Requests != first || !strings.Contains(stderr, "stopped at the cost cap") {
		t.Fatalf("rerun under the same cap: exit %d, calls %d → %d\n%s", code, first, srv.Stats().Requests, stderr)
	}

	code, stdout, stderr = run(t, nil, append(args, "--max-cost", "1000")...)
	if code != exitOK {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := srv.Stats().Requests; n != 35 {
		t.Errorf("%d calls in all, want 35 (every finished exercise kept)", n)
	}
	var res examina.Result
	data, _ := os.ReadFile(out)
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	c := res.Stats.Cost
	if res.Stats.Resumed != first || c == nil || c.Calls != 35-first || c.USD == nil || *c.USD != 6*float64(35-first) || c.MaxUSD == nil || *c.MaxUSD != 1000 {
		t.Errorf("resumed %d (want %d), cost %+v", res.Stats.Resumed, first, c)
	}
	if c.JobUSD == nil || *c.JobUSD != 6*35 {
		t.Errorf("job_usd = %v, want every run's spend, $%d", c.JobUSD, 6*35)
	}
	if !strings.Contains(stdout, "cost") || !strings.Contains(stdout, "of it retries/failures") || !strings.Contains(stdout, "example.test/pricing") {
		t.Errorf("summary lacks the cost:\n%s", stdout)
	}
}

func TestMaxCostNeedsAPrice(t *testing.T) {
	env := map[string]string{"GROQ_API_KEY": "gsk-test"}
	code, _, stderr := run(t, env, "analyze", "--input", example, "--store", filepath.Join(t.TempDir(), "s"), "--provider", "groq", "--model", "some-new-model", "--max-cost", "1")
	if code != exitUsage || !strings.Contains(stderr, "no price is known") || !strings.Contains(stderr, "--prices") {
		t.Fatalf("exit %d, want 2 and a pointer to --prices:\n%s", code, stderr)
	}
	code, _, stderr = run(t, nil, "analyze", "--input", example, "--prices", filepath.Join(t.TempDir(), "missing.json"), "--dry-run")
	if code != exitUsage || !strings.Contains(stderr, "price file") {
		t.Fatalf("a missing price file: exit %d\n%s", code, stderr)
	}
}

func TestCostRowsUnknownPrice(t *testing.T) {
	var b strings.Builder
	costRows(func(k string, v any) { b.WriteString(k + ": " + toString(v) + "\n") }, &examina.Cost{InputTokens: 10, OutputTokens: 5, Calls: 1})
	if !strings.Contains(b.String(), "unknown") || strings.Contains(b.String(), "$0") {
		t.Errorf("an unknown price must read as unknown, never $0:\n%s", b.String())
	}
}

func toString(v any) string { s, _ := v.(string); return s }
