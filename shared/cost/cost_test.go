package cost_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

func TestBuiltinPrices(t *testing.T) {
	tab, err := cost.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		provider, model, baseURL string
		known, local             bool
		in, out                  float64
	}{
		{"groq", "openai/gpt-oss-120b", "", true, false, 0.15, 0.60},
		{"openai", "gpt-4o-mini", "", true, false, 0.15, 0.60},
		{"anthropic", "claude-haiku-4-5", "", true, false, 1, 5},
		{"anthropic", "claude-haiku-4-5-20251001", "", true, false, 1, 5}, // a dated snapshot
		{"anthropic", "claude-haiku-4-50", "", false, false, 0, 0},        // not a snapshot of 4-5
		{"openai", "gpt-4.1-mini", "", true, false, 0.40, 1.60},           // not gpt-4.1's price
		{"openai", "my-finetune", "", false, false, 0, 0},
		{"bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", "", false, false, 0, 0},
		{"openai", "anything", "http://localhost:8080/v1", true, true, 0, 0},
		{"openai", "anything", "http://127.0.0.1:8080/v1", true, true, 0, 0},
		{"openai", "anything", "http://[::1]:8080/v1", true, true, 0, 0},
		{"openai", "gpt-4o-mini", "https://api.openai.com/v1", true, false, 0.15, 0.60},
		{"ollama", "qwen3:8b", "", true, true, 0, 0},
		{"offline", "heuristic", "", true, true, 0, 0},
		{"simulated", "sim", "", true, true, 0, 0},
	}
	for _, tt := range tests {
		q := tab.Lookup(tt.provider, tt.model, tt.baseURL)
		if q.Known != tt.known || q.Local != tt.local || q.InputPerMTok != tt.in || q.OutputPerMTok != tt.out {
			t.Errorf("Lookup(%s, %s, %q) = %+v, want known %v local %v %g/%g", tt.provider, tt.model, tt.baseURL, q, tt.known, tt.local, tt.in, tt.out)
		}
		if q.Known && !q.Local && (q.Checked == "" || !strings.HasPrefix(q.Source, "https://") || q.Origin != "built-in") {
			t.Errorf("Lookup(%s, %s): a built-in price needs its check date, source page and origin: %+v", tt.provider, tt.model, q)
		}
	}
}

// Every hosted entry of the shipped table has a check date and a source page.
func TestBuiltinFileComplete(t *testing.T) {
	data, err := os.ReadFile("prices.json")
	if err != nil {
		t.Fatal(err)
	}
	var f cost.File
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if f.Note == "" {
		t.Error("the price table needs its note (how and when the prices were checked)")
	}
	for name, p := range f.Providers {
		if p.Local {
			continue
		}
		if !strings.HasPrefix(p.Source, "https://") || len(p.Models) == 0 {
			t.Errorf("provider %s: want a source page and models, got %+v", name, p)
		}
		for m, pr := range p.Models {
			if _, err := time.Parse(time.DateOnly, pr.Checked); err != nil || pr.InputPerMTok <= 0 || pr.OutputPerMTok <= 0 {
				t.Errorf("%s/%s: want a check date and positive prices, got %+v", name, m, pr)
			}
		}
	}
}

func TestLoadFileOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	override := `{"providers": {
		"openai": {"models": {"gpt-4o-mini": {"input_per_mtok": 1, "output_per_mtok": 2, "checked": "2027-01-01"},
		                      "my-finetune": {"input_per_mtok": 0.3, "output_per_mtok": 1.2}}},
		"bedrock": {"source": "https://aws.amazon.com/bedrock/pricing/",
		            "models": {"eu.anthropic.claude-haiku-4-5-20251001-v1:0": {"input_per_mtok": 1.1, "output_per_mtok": 5.5}}},
		"mine": {"local": true, "models": {}}}}`
	if err := os.WriteFile(path, []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	tab, err := cost.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if q := tab.Lookup("openai", "gpt-4o-mini", ""); q.InputPerMTok != 1 || q.OutputPerMTok != 2 || q.Origin != path || q.Source == "" {
		t.Errorf("override not applied: %+v", q)
	}
	if q := tab.Lookup("openai", "my-finetune", ""); !q.Known || q.InputPerMTok != 0.3 {
		t.Errorf("new model not added: %+v", q)
	}
	if q := tab.Lookup("openai", "gpt-4o", ""); q.InputPerMTok != 2.5 || q.Origin != "built-in" {
		t.Errorf("built-in entry lost: %+v", q)
	}
	if q := tab.Lookup("bedrock", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", ""); !q.Known || q.Source != "https://aws.amazon.com/bedrock/pricing/" {
		t.Errorf("bedrock price: %+v", q)
	}
	if q := tab.Lookup("openai", "my-finetune", "http://127.0.0.1:9/v1"); q.Local || q.InputPerMTok != 0.3 {
		t.Errorf("a model named in the price file keeps its price on a local URL: %+v", q)
	}
	if q := tab.Lookup("openai", "gpt-4o", "http://127.0.0.1:9/v1"); !q.Local {
		t.Errorf("a built-in price on a local URL: %+v, want local", q)
	}
	if q := tab.Lookup("mine", "x", ""); !q.Local {
		t.Errorf("local provider: %+v", q)
	}
}

func TestLoadFileRejects(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not json", `nope`, "not a price file"},
		{"no providers", `{}`, `no "providers"`},
		{"unknown field", `{"providers": {"openai": {"models": {"m": {"input": 1}}}}}`, "unknown field"},
		{"negative", `{"providers": {"openai": {"models": {"m": {"input_per_mtok": -1, "output_per_mtok": 1}}}}}`, `providers.openai.models."m"`},
		{"bad date", `{"providers": {"openai": {"models": {"m": {"input_per_mtok": 1, "output_per_mtok": 1, "checked": "yesterday"}}}}}`, "not a date"},
		{"empty model", `{"providers": {"openai": {"models": {"": {"input_per_mtok": 1, "output_per_mtok": 1}}}}}`, "empty name"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "p.json")
		if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := cost.LoadFile(path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming %s and saying %q", tt.name, err, path, tt.want)
		}
	}
	if _, err := cost.LoadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing price file must be an error")
	}
}

func FuzzMerge(f *testing.F) {
	f.Add([]byte(`{"providers":{"openai":{"models":{"gpt-x":{"input_per_mtok":1,"output_per_mtok":2}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := cost.Builtin()
		if err != nil {
			t.Fatal(err)
		}
		if err := tab.Merge(strings.NewReader(string(data)), "fuzz"); err != nil {
			return
		}
		// Whatever was accepted prices every call at a finite amount of at least 0.
		for _, p := range []string{"openai", "groq", "anthropic"} {
			q := tab.Lookup(p, "gpt-x", "")
			if usd := q.USD(1000, 1000); usd < 0 || math.IsNaN(usd) || math.IsInf(usd, 0) {
				t.Fatalf("%s: cost %g", p, usd)
			}
		}
	})
}

// fixture is a recorded llama-server exchange.
type fixture struct {
	RequestBody struct {
		Messages  []struct{ Role, Content string } `json:"messages"`
		MaxTokens int                              `json:"max_tokens"`
	} `json:"request_body"`
	ResponseBody string `json:"response_body"` // verbatim
}

// usage is the usage object of a chat completion.
type usage struct {
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// The estimate of the prompts' input tokens is within 5% of what llama-server reported
// for them, and the worst case is never below it.
func TestEstimateAgainstReportedUsage(t *testing.T) {
	files, _ := filepath.Glob("testdata/llama-server/*.json")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var fx fixture
		if err := json.Unmarshal(data, &fx); err != nil {
			t.Fatal(err)
		}
		var u usage
		if err := json.Unmarshal([]byte(fx.ResponseBody), &u); err != nil {
			t.Fatalf("%s: response body: %v", name, err)
		}
		msgs := fx.RequestBody.Messages
		if len(msgs) != 2 || u.Usage.PromptTokens == 0 {
			t.Fatalf("%s: unexpected fixture shape", name)
		}
		req := examina.Request{Prompt: examina.Prompt{System: msgs[0].Content, User: msgs[1].Content}, MaxTokens: fx.RequestBody.MaxTokens}
		got, want := cost.EstimateInput(req, false), u.Usage.PromptTokens
		if diff := math.Abs(float64(got-want)) / float64(want); diff > 0.05 {
			t.Errorf("%s: estimate %d tokens, server reported %d (%.1f%% off, want within 5%%)", name, got, want, 100*diff)
		}
		t.Logf("%s: estimate %d, reported %d", filepath.Base(name), got, want)
		if w := cost.WorstInput(req); w < want {
			t.Errorf("%s: worst case %d below the reported %d", name, w, want)
		}
		if w := cost.WorstOutput(req); w < u.Usage.CompletionTokens {
			t.Errorf("%s: worst output %d below the reported %d", name, w, u.Usage.CompletionTokens)
		}
	}
}

func TestEstimateInput(t *testing.T) {
	base := examina.Request{Prompt: examina.Prompt{System: strings.Repeat("a", 370), User: strings.Repeat("è", 37)}, Schema: []byte(strings.Repeat("{", 74))}
	if got, want := cost.EstimateInput(base, false), 100+10+2*cost.MessageTokens+cost.ReplyTokens; got != want {
		t.Errorf("EstimateInput = %d, want %d (runes, not bytes, per token)", got, want)
	}
	if got, want := cost.EstimateInput(base, true), 100+10+20+3*cost.MessageTokens+cost.ReplyTokens; got != want {
		t.Errorf("EstimateInput with the schema = %d, want %d", got, want)
	}
	rep := base
	rep.Repair = strings.Repeat("r", 37)
	if cost.EstimateInput(rep, false) != cost.EstimateInput(base, false)+10+cost.MessageTokens {
		t.Error("the repair instruction is not counted")
	}
	if cost.WorstInput(rep) <= cost.WorstInput(base) {
		t.Error("the worst case ignores the repair instruction")
	}
}

func TestBilled(t *testing.T) {
	tests := []struct {
		name    string
		resp    examina.Response
		err     error
		in, out int
		metered bool
	}{
		{"ok", examina.Response{InputTokens: 10, OutputTokens: 5, HTTPStatus: 200}, nil, 10, 5, true},
		{"truncated with usage", examina.Response{InputTokens: 10, OutputTokens: 1024}, &examina.ProviderError{HTTPStatus: 200, Reason: "truncated"}, 10, 1024, true},
		{"429", examina.Response{}, &examina.ProviderError{HTTPStatus: 429}, 0, 0, true},
		{"500", examina.Response{}, &examina.ProviderError{HTTPStatus: 500}, 0, 0, true},
		{"timeout", examina.Response{}, &examina.ProviderError{Reason: "timeout"}, 0, 0, false},
		{"200 without usage", examina.Response{HTTPStatus: 200}, nil, 0, 0, false},
		{"garbage 200", examina.Response{HTTPStatus: 200}, &examina.ProviderError{HTTPStatus: 200, Reason: "invalid_output"}, 0, 0, false},
	}
	for _, tt := range tests {
		in, out, m := cost.Billed(tt.resp, tt.err)
		if in != tt.in || out != tt.out || m != tt.metered {
			t.Errorf("%s: Billed = %d, %d, %v; want %d, %d, %v", tt.name, in, out, m, tt.in, tt.out, tt.metered)
		}
	}
}

func TestLedger(t *testing.T) {
	q := cost.Quote{Provider: "p", Model: "m", Known: true, Price: cost.Price{InputPerMTok: 1, OutputPerMTok: 10}}
	req := examina.Request{Prompt: examina.Prompt{System: strings.Repeat("s", 900), User: "u"}, MaxTokens: 1000}
	worst := q.USD(cost.WorstInput(req), cost.WorstOutput(req))
	l, err := cost.NewLedger(q, 2.5*worst)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s1, err := l.Reserve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := l.Reserve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Two calls in flight: a third could exceed the cap.
	_, err = l.Reserve(ctx, req)
	var ce *cost.CapError
	if !errors.As(err, &ce) || !errors.Is(err, cost.ErrCapReached) || ce.ReservedUSD < 2*worst*0.999 {
		t.Fatalf("third reservation: err = %v, want a CapError counting two reservations", err)
	}
	s1(examina.Response{InputTokens: 100, OutputTokens: 10}, nil)
	s1(examina.Response{InputTokens: 100, OutputTokens: 10}, nil) // settling twice counts once
	s2(examina.Response{}, &examina.ProviderError{Reason: "timeout"})
	tot := l.Totals()
	if tot.Calls != 2 || tot.InputTokens != 100 || tot.OutputTokens != 10 || tot.Unmetered != 1 || tot.ReservedNanos != 0 || tot.Refused != 1 {
		t.Fatalf("totals = %+v", tot)
	}
	if tot.MeteredNanos != q.Nanos(100, 10) {
		t.Errorf("metered %d nano-USD, want %d", tot.MeteredNanos, q.Nanos(100, 10))
	}
	// The timed-out call counts at its worst case: one more call no longer fits.
	if _, err := l.Reserve(ctx, req); err != nil {
		t.Errorf("after settling, spent %g + worst %g is within the cap %g: %v", cost.NanosToUSD(tot.SpentNanos()), worst, 2.5*worst, err)
	}
	if tot.PeakNanos > cost.USDToNanos(2.5*worst) {
		t.Errorf("peak %d above the cap", tot.PeakNanos)
	}
	rep := l.Report(60, 5)
	if rep.USD == nil || *rep.USD != cost.NanosToUSD(q.Nanos(100, 10)) || rep.RetryInputTokens != 40 || rep.RetryOutputTokens != 5 ||
		rep.UnmeteredCalls != 1 || rep.MaxUSD == nil || rep.Price == nil || !rep.PriceKnown {
		t.Errorf("report = %+v", rep)
	}
}

func TestLedgerUnknownPrice(t *testing.T) {
	q := cost.Quote{Provider: "bedrock", Model: "x"}
	if _, err := cost.NewLedger(q, 1); err == nil || !strings.Contains(err.Error(), "--prices") {
		t.Errorf("a cap without a price: err = %v, want one pointing at --prices", err)
	}
	l, err := cost.NewLedger(q, 0)
	if err != nil {
		t.Fatal(err)
	}
	settle, err := l.Reserve(context.Background(), examina.Request{MaxTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	settle(examina.Response{InputTokens: 5, OutputTokens: 5}, nil)
	rep := l.Report(0, 0)
	if rep.USD != nil || rep.RetryUSD != nil || rep.PriceKnown || rep.InputTokens != 5 {
		t.Errorf("an unknown price must leave the amounts null (never 0): %+v", rep)
	}
	data, _ := json.Marshal(rep)
	if !strings.Contains(string(data), `"usd":null`) {
		t.Errorf("JSON %s: want usd null", data)
	}
}

func TestScheduleDuration(t *testing.T) {
	tokens := func(n, each int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = each
		}
		return s
	}
	sec := time.Second
	tests := []struct {
		name string
		s    cost.Schedule
		want time.Duration
	}{
		{"none", cost.Schedule{Batch: 10, Latency: sec}, 0},
		{"one wave", cost.Schedule{Tokens: tokens(10, 100), Batch: 10, Latency: 2 * sec}, 2 * sec},
		{"sliding window", cost.Schedule{Tokens: tokens(25, 100), Batch: 10, Latency: 2 * sec}, 6 * sec},
		{"sequential", cost.Schedule{Tokens: tokens(5, 100), Batch: 1, Latency: 3 * sec}, 15 * sec},
		// 30 requests a minute: call 31 starts at 1m, 61 at 2m.
		{"rpm", cost.Schedule{Tokens: tokens(61, 1), Batch: 100, RPM: 30, Latency: sec}, 2*time.Minute + sec},
		// 8000 tokens a minute at 2000 a call: 4 a minute, 10 calls end at 2m+latency.
		{"tpm", cost.Schedule{Tokens: tokens(10, 2000), Batch: 10, TPM: 8000, Latency: sec}, 2*time.Minute + sec},
		// A call larger than the budget waits for an empty window.
		{"oversized", cost.Schedule{Tokens: tokens(2, 9000), Batch: 10, TPM: 8000, Latency: sec}, time.Minute + sec},
		{"per", cost.Schedule{Tokens: tokens(3, 1), Batch: 10, RPM: 1, Per: sec, Latency: 0}, 2 * sec},
	}
	for _, tt := range tests {
		if got := tt.s.Duration(); got != tt.want {
			t.Errorf("%s: Duration = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestFormatUSD(t *testing.T) {
	for usd, want := range map[float64]string{0: "$0", 0.000123: "$0.000123", 0.5: "$0.5000", 12.345: "$12.35"} {
		if got := cost.FormatUSD(usd); got != want {
			t.Errorf("FormatUSD(%g) = %q, want %q", usd, got, want)
		}
	}
}
