package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/providers"
)

// costFlags are the flags about money: the price table, the cap and the dry run.
type costFlags struct {
	prices  string
	maxCost float64
	dryRun  bool
}

func (c *costFlags) register(fs *flag.FlagSet, env *envReader) {
	fs.StringVar(&c.prices, "prices", env.str("EXAMINA_PRICES", ""), "price file overriding the built-in prices, USD per million tokens (format in the README; env EXAMINA_PRICES)")
	fs.Float64Var(&c.maxCost, "max-cost", env.float("max-cost", "EXAMINA_MAX_COST", 0), "stop before any call that could take the job's spend (all its runs; --force starts over) over this many USD; finished work is stored and a rerun with a higher cap resumes (env EXAMINA_MAX_COST; 0: no cap)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "make no provider call: print the requests, tokens, cost and time the run would take, and what the store and cache would skip")
}

func (c *costFlags) validate() error {
	if c.maxCost < 0 {
		return usagef("--max-cost must be an amount in USD of at least 0, not %g", c.maxCost)
	}
	return nil
}

// quote looks up the price of the built provider.
func (c *costFlags) quote(b builtProvider) (cost.Quote, error) {
	tab, err := cost.LoadFile(c.prices)
	if err != nil {
		return cost.Quote{}, &inputError{err}
	}
	baseURL := b.Config.BaseURL
	return tab.Lookup(b.Provider.Name(), b.Provider.Model(), baseURL), nil
}

// ledger returns the run's Ledger at q with the --max-cost cap.
func (c *costFlags) ledger(q cost.Quote) (*cost.Ledger, error) {
	l, err := cost.NewLedger(q, c.maxCost)
	if err != nil {
		return nil, usagef("--max-cost: %v", err)
	}
	return l, nil
}

// budgetStop explains a run stopped by --max-cost.
func budgetStop(w io.Writer, be *pipeline.BudgetError) {
	fmt.Fprintf(w, "examina: stopped at the cost cap: %v\n", be.Cap)
	fmt.Fprintf(w, "  %d of %d exercises are analysed and stored (%d in this run)\n", be.Done, be.Total, be.Analyzed)
	if c := be.Cost; c.USD != nil {
		fmt.Fprintf(w, "  this run spent %s on %d call(s), %s of it on retries and failed attempts", cost.FormatUSD(*c.USD), c.Calls, cost.FormatUSD(*c.RetryUSD))
		if c.UnmeteredCalls > 0 {
			fmt.Fprintf(w, ", plus up to %s for %d call(s) that reported no usage", cost.FormatUSD(*c.UnmeteredMaxUSD), c.UnmeteredCalls)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "  run the same command with a higher --max-cost to resume; see the estimate with --dry-run")
}

// costRows adds the cost of a run to the summary table.
func costRows(row func(string, any), c *examina.Cost) {
	if c == nil {
		return
	}
	if c.USD == nil {
		row("cost", fmt.Sprintf("unknown: no price for this model (give one with --prices FILE); %d in, %d out tokens over %d call(s)", c.InputTokens, c.OutputTokens, c.Calls))
		return
	}
	line := fmt.Sprintf("%s for %d call(s), %d in + %d out tokens", cost.FormatUSD(*c.USD), c.Calls, c.InputTokens, c.OutputTokens)
	if c.Price != nil && c.Price.Local {
		line += " (local server: free)"
	}
	row("cost", line)
	row("  of it retries/failures", fmt.Sprintf("%s (%d in + %d out tokens)", cost.FormatUSD(*c.RetryUSD), c.RetryInputTokens, c.RetryOutputTokens))
	if local := c.Price != nil && c.Price.Local; c.UnmeteredCalls > 0 && !local {
		row("  unmetered calls", fmt.Sprintf("%d reported no usage (timeouts, unreadable answers): up to %s more", c.UnmeteredCalls, cost.FormatUSD(*c.UnmeteredMaxUSD)))
	}
	if c.JobUSD != nil {
		row("  all runs of this job", cost.FormatUSD(*c.JobUSD))
	}
	if c.MaxUSD != nil {
		row("  cap (the job's)", cost.FormatUSD(*c.MaxUSD))
	}
	if p := c.Price; p != nil && !p.Local {
		row("  price", fmt.Sprintf("$%g in / $%g out per million tokens (%s, checked %s, %s)", p.InputPerMTok, p.OutputPerMTok, p.Origin, p.Checked, p.Source))
	}
}

// Dry-run assumptions when the store has no history for the provider and model.
const (
	defaultOutputTokens = 400
	defaultLatency      = 4 * time.Second
)

// dryRunReport is what `analyze --dry-run` prints (as a table, or JSON with
// --format json).
type dryRunReport struct {
	JobID     string `json:"job_id"`
	Provider  string `json:"provider"`
	Model     string `json:"model"`
	Exercises int    `json:"exercises"`
	Resumed   int    `json:"resumed"` // already stored for the job: skipped
	Cached    int    `json:"cached"`  // answered by the response cache: skipped
	Requests  int    `json:"requests"`
	// InputTokens is the estimate of the prompts that would be sent; WorstInputTokens
	// their upper bound.
	InputTokens      int `json:"input_tokens"`
	WorstInputTokens int `json:"worst_input_tokens"`
	// OutputTokens is the expected output (history or the default per answer);
	// WorstOutputTokens the budgets.
	OutputTokens      int    `json:"output_tokens"`
	WorstOutputTokens int    `json:"worst_output_tokens"`
	OutputBasis       string `json:"output_basis"`
	// CostUSD and WorstCostUSD are null when the price is unknown.
	CostUSD      *float64           `json:"cost_usd"`
	WorstCostUSD *float64           `json:"worst_cost_usd"`
	Price        *examina.PriceInfo `json:"price,omitempty"`
	Batch        int                `json:"batch_size"`
	RPM          int                `json:"rpm"`
	TPM          int                `json:"tpm"`
	LatencyMS    int64              `json:"assumed_latency_ms"`
	LatencyBasis string             `json:"latency_basis"`
	ExpectedMS   int64              `json:"expected_ms"`
	MaxCostUSD   float64            `json:"max_cost_usd,omitempty"`
	// SpentUSD is what earlier runs of this job spent (it counts towards the cap).
	SpentUSD    float64 `json:"spent_usd,omitempty"`
	TokenMethod string  `json:"token_method"`
}

// dryRun forecasts the run without calling the provider.
func (m *Main) dryRun(ctx context.Context, c *analyzeConfig, cf examina.CourseFile, lang string, b builtProvider) error {
	q, err := c.cost.quote(b)
	if err != nil {
		return err
	}
	prov := b.Provider
	jobID := pipeline.JobID(cf, analysis.PromptVersion, prov.Name(), prov.Model(), lang)
	rep := dryRunReport{JobID: jobID, Provider: prov.Name(), Model: prov.Model(), Exercises: len(cf.Exercises),
		Batch: c.batchSize, RPM: b.Config.RPM, TPM: b.Config.TPM, MaxCostUSD: c.cost.maxCost,
		TokenMethod: fmt.Sprintf("characters / %.1f + %d per message (measured on llama-server's reported usage); worst case: one token per byte", cost.CharsPerToken, cost.MessageTokens)}

	// The store is only read, and only when it exists: a dry run creates nothing.
	var st *bolt.Store
	if _, err := os.Stat(c.store); err == nil {
		if st, err = bolt.Open(ctx, c.store, bolt.Options{}); err != nil {
			return err
		}
		defer st.Close()
	}
	stored := map[int]examina.ExerciseResult{}
	outHist, latHist := []int{}, []int64{}
	if st != nil {
		if job, err := st.GetJob(ctx, jobID); err == nil && !c.force {
			if job.Spend != nil {
				rep.SpentUSD = cost.NanosToUSD(job.Spend.MeteredNanos + job.Spend.UnmeteredNanos)
			}
			rs, err := st.Results(ctx, jobID)
			if err != nil {
				return fmt.Errorf("reading stored results: %w", err)
			}
			for _, r := range rs {
				stored[r.Position] = r
			}
		}
		outHist, latHist, err = history(ctx, st, prov.Name(), prov.Model())
		if err != nil {
			return err
		}
	}
	maxTokens := pipeline.DefaultMaxTokens
	var rateTokens []int
	for i, ex := range cf.Exercises {
		if s, ok := stored[i]; ok && s.ID == ex.ID && (s.Analysis.Status != examina.StatusDegraded || !c.retryDegraded) {
			rep.Resumed++
			continue
		}
		prev := cf.Previous(i)
		if st != nil && !c.force {
			key := analysis.CacheKey(analysis.PromptVersion, prov.Name(), prov.Model(), lang, cf.Course, ex.Text, prev)
			if _, ok, err := st.CacheGet(ctx, key); err != nil {
				return fmt.Errorf("reading the cache: %w", err)
			} else if ok {
				rep.Cached++
				continue
			}
		}
		// The exact request the Analyzer would send first.
		req := examina.Request{Prompt: analysis.Build(cf.Course, lang, ex, prev), Schema: analysis.Schema(), MaxTokens: maxTokens}
		rep.Requests++
		rep.InputTokens += cost.EstimateInput(req, !q.Local)
		rep.WorstInputTokens += cost.WorstInput(req)
		rep.WorstOutputTokens += cost.WorstOutput(req)
		rateTokens = append(rateTokens, pipeline.RateTokens(req))
	}
	perAnswer, basis := defaultOutputTokens, fmt.Sprintf("assumed %d tokens per answer (no history in the store for this model)", defaultOutputTokens)
	if len(outHist) > 0 {
		perAnswer = median(outHist)
		basis = fmt.Sprintf("median of %d stored answers of this model", len(outHist))
	}
	perAnswer = min(perAnswer, maxTokens)
	rep.OutputTokens, rep.OutputBasis = perAnswer*rep.Requests, basis
	latency, lbasis := defaultLatency, fmt.Sprintf("assumed %s per call (no history in the store for this model)", defaultLatency)
	switch {
	case len(latHist) > 0:
		latency = time.Duration(median(latHist)) * time.Millisecond
		lbasis = fmt.Sprintf("median of %d stored calls of this model", len(latHist))
	case prov.Name() == providers.Offline:
		latency, lbasis = 0, "offline heuristic: no network call"
	case prov.Name() == providers.Simulated:
		sc := b.Config.Simulated
		latency, lbasis = sc.Latency+sc.Jitter/2, "the simulated provider's configured latency"
	}
	rep.LatencyMS, rep.LatencyBasis = latency.Milliseconds(), lbasis
	rep.ExpectedMS = cost.Schedule{Tokens: rateTokens, Batch: c.batchSize, RPM: b.Config.RPM, TPM: b.Config.TPM, Latency: latency}.Duration().Milliseconds()
	if q.Known {
		usd, worst := q.USD(rep.InputTokens, rep.OutputTokens), q.USD(rep.WorstInputTokens, rep.WorstOutputTokens)
		rep.CostUSD, rep.WorstCostUSD = &usd, &worst
		rep.Price = &examina.PriceInfo{InputPerMTok: q.InputPerMTok, OutputPerMTok: q.OutputPerMTok, Checked: q.Checked, Source: q.Source, Origin: q.Origin, Local: q.Local}
	}
	if c.format == "json" {
		return writeJSON(m.Stdout, rep)
	}
	printDryRun(m.Stdout, rep, cf)
	return nil
}

// history returns the output tokens and latencies of the kept attempts of stored
// analyses made with provider and model (at most 2000, newest jobs first).
func history(ctx context.Context, st examina.Store, provider, model string) (out []int, lat []int64, err error) {
	jobs, err := st.ListJobs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the store's jobs: %w", err)
	}
	for _, j := range jobs {
		if j.Provider != provider || j.Model != model || len(out) >= 2000 {
			continue
		}
		rs, err := st.Results(ctx, j.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the store's results: %w", err)
		}
		for _, r := range rs {
			a := r.Analysis
			if n := len(a.AttemptLog); a.Status == examina.StatusOK && n > 0 && a.AttemptLog[n-1].OutputTokens > 0 {
				out = append(out, a.AttemptLog[n-1].OutputTokens)
				lat = append(lat, a.AttemptLog[n-1].LatencyMS)
			}
		}
	}
	return out, lat, nil
}

func median[T int | int64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func printDryRun(w io.Writer, rep dryRunReport, cf examina.CourseFile) {
	fmt.Fprintf(w, "\nDry run — %s — %s  (job %s): no provider call made\n", cf.Course.Code, cf.Course.Name, rep.JobID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "  %s\t%v\n", k, v) }
	row("provider", fmt.Sprintf("%s (%s)", rep.Provider, rep.Model))
	row("exercises", rep.Exercises)
	row("skipped: stored", fmt.Sprintf("%d (already analysed in this job; --force to redo)", rep.Resumed))
	row("skipped: cached", fmt.Sprintf("%d (same prompt answered before)", rep.Cached))
	row("requests", fmt.Sprintf("%d (first attempts; retries add to it)", rep.Requests))
	row("input tokens", fmt.Sprintf("~%d (worst case %d)", rep.InputTokens, rep.WorstInputTokens))
	row("output tokens", fmt.Sprintf("~%d (%s; worst case %d)", rep.OutputTokens, rep.OutputBasis, rep.WorstOutputTokens))
	switch {
	case rep.CostUSD == nil:
		row("cost", fmt.Sprintf("unknown: no price for %s %s; give one with --prices FILE", rep.Provider, rep.Model))
	case rep.Price != nil && rep.Price.Local:
		row("cost", "$0 (runs on this machine)")
	default:
		row("cost", fmt.Sprintf("~%s (worst case %s)", cost.FormatUSD(*rep.CostUSD), cost.FormatUSD(*rep.WorstCostUSD)))
		row("price", fmt.Sprintf("$%g in / $%g out per million tokens (%s, checked %s, %s)", rep.Price.InputPerMTok, rep.Price.OutputPerMTok, rep.Price.Origin, rep.Price.Checked, rep.Price.Source))
	}
	if rep.SpentUSD > 0 {
		row("spent by earlier runs", cost.FormatUSD(rep.SpentUSD))
	}
	if rep.MaxCostUSD > 0 {
		row("cap (--max-cost)", cost.FormatUSD(rep.MaxCostUSD))
	}
	limits := fmt.Sprintf("batch %d", rep.Batch)
	if rep.RPM > 0 {
		limits += fmt.Sprintf(", %d requests/min", rep.RPM)
	}
	if rep.TPM > 0 {
		limits += fmt.Sprintf(", %d tokens/min", rep.TPM)
	}
	row("expected time", fmt.Sprintf("~%s (%s; %s)", (time.Duration(rep.ExpectedMS)*time.Millisecond).Round(time.Second), limits, rep.LatencyBasis))
	row("token estimate", rep.TokenMethod)
	tw.Flush()
}

// errBudget reports whether err is a run stopped at its cost cap.
func errBudget(err error) (*pipeline.BudgetError, bool) {
	var be *pipeline.BudgetError
	return be, errors.As(err, &be)
}
