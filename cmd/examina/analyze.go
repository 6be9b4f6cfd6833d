package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

// analyzeConfig is everything `examina analyze` is told, from flags and environment
// (a flag always wins over its environment variable).
type analyzeConfig struct {
	input, inputFormat     string
	courseCode, courseName string
	lang                   string
	provider               providerFlags
	batchSize              int
	sequential             bool
	retries                int
	maxPause               time.Duration
	minConfidence          float64
	force, retryDegraded   bool
	out, format, store     string
	limits                 course.Limits
	logLevel               string
	quiet                  bool
	cost                   costFlags
	env                    *envReader
}

func (m *Main) analyzeFlags(fs *flag.FlagSet) *analyzeConfig {
	c := &analyzeConfig{env: &envReader{get: m.Getenv}}
	env := c.env
	fs.StringVar(&c.input, "input", "", "course file to analyse (.json, or .jsonl with --course)")
	fs.StringVar(&c.inputFormat, "input-format", "", "json or jsonl (default: from the file)")
	fs.StringVar(&c.courseCode, "course", "", "course code (required for JSONL; overrides the file's)")
	fs.StringVar(&c.courseName, "course-name", "", "course name (JSONL; default: the code)")
	fs.StringVar(&c.lang, "lang", env.str("EXAMINA_LANG", ""), "output language: en or it (default: the course's; env EXAMINA_LANG)")
	c.provider.register(fs, env)
	fs.IntVar(&c.batchSize, "batch-size", env.int("batch-size", "EXAMINA_BATCH_SIZE", 10), "most provider calls in flight (env EXAMINA_BATCH_SIZE)")
	fs.BoolVar(&c.sequential, "sequential", false, "one call at a time (same as --batch-size 1)")
	fs.IntVar(&c.retries, "retries", env.int("retries", "EXAMINA_RETRIES", 2), "retries per exercise after the first attempt, for transient failures (env EXAMINA_RETRIES); the repair of invalid output and the larger budgets of truncated output are counted apart")
	fs.DurationVar(&c.maxPause, "max-pause", env.duration("max-pause", "EXAMINA_MAX_PAUSE", pipeline.DefaultBreakerMaxPause), "when the provider is unreachable or answers 5xx to everything, pause the whole run and probe it for up to this long before degrading exercises (env EXAMINA_MAX_PAUSE; 0: no pause, degrade at once)")
	fs.Float64Var(&c.minConfidence, "min-confidence", env.float("min-confidence", "EXAMINA_MIN_CONFIDENCE", 0.5), "aggregate topics and core loops above this confidence (env EXAMINA_MIN_CONFIDENCE)")
	fs.BoolVar(&c.force, "force", false, "re-analyse every exercise, ignoring stored results and the cache")
	fs.BoolVar(&c.retryDegraded, "retry-degraded", false, "re-analyse exercises whose stored analysis is degraded")
	fs.StringVar(&c.out, "out", "", "write the result document (JSON) to this file (default: <store>/results/<job>.json)")
	fs.StringVar(&c.format, "format", "table", "summary on stdout: table or json (the whole result document)")
	fs.StringVar(&c.store, "store", env.str("EXAMINA_STORE", ".examina"), "embedded store directory (env EXAMINA_STORE)")
	d := course.DefaultLimits()
	fs.IntVar(&c.limits.MaxExerciseChars, "max-exercise-chars", d.MaxExerciseChars, "largest exercise text, in characters")
	fs.IntVar(&c.limits.MaxExercises, "max-exercises", d.MaxExercises, "most exercises in a course file")
	fs.Int64Var(&c.limits.MaxFileBytes, "max-file-bytes", d.MaxFileBytes, "largest course file, in bytes")
	fs.StringVar(&c.logLevel, "log-level", env.str("EXAMINA_LOG_LEVEL", "error"), "debug, info, warn or error (env EXAMINA_LOG_LEVEL); logs go to stderr, the summary reports degraded exercises")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress output")
	c.cost.register(fs, env)
	return c
}

func (m *Main) analyze(ctx context.Context, args []string) error {
	fs := m.newFlagSet("analyze", "analyze --input FILE [flags]")
	c := m.analyzeFlags(fs)
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if err := c.env.check(fs); err != nil {
		return err
	}
	if c.input == "" && fs.NArg() == 1 {
		c.input = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usagef("unexpected arguments %q (give the course file with --input)", fs.Args())
	}
	if c.input == "" {
		return usagef("--input is required, e.g. examina analyze --input examples/ade.json")
	}
	if c.format != "table" && c.format != "json" {
		return usagef("--format must be table or json, not %q", c.format)
	}
	if c.sequential {
		c.batchSize = 1
	}
	if c.batchSize < 1 || c.batchSize > 1000 {
		return usagef("--batch-size must be between 1 and 1000, not %d", c.batchSize)
	}
	if c.retries < 0 || c.retries > 20 {
		return usagef("--retries must be between 0 and 20, not %d", c.retries)
	}
	if c.maxPause < 0 || c.maxPause > 24*time.Hour {
		return usagef("--max-pause must be between 0 and 24h, not %s", c.maxPause)
	}
	if c.minConfidence <= 0 || c.minConfidence > 1 {
		return usagef("--min-confidence must be above 0 and at most 1, not %g", c.minConfidence)
	}
	if c.lang != "" && c.lang != "en" && c.lang != "it" {
		return usagef("--lang must be en or it, not %q", c.lang)
	}
	if err := c.cost.validate(); err != nil {
		return err
	}
	logger, err := newLogger(m.Stderr, c.logLevel)
	if err != nil {
		return err
	}

	opts := course.Options{Limits: c.limits, Format: course.Format(c.inputFormat)}
	opts.Course.Code = c.courseCode
	opts.Course.Name = c.courseName
	if opts.Course.Name == "" && c.courseCode != "" && strings.HasSuffix(strings.ToLower(c.input), ".jsonl") {
		opts.Course.Name = c.courseCode
	}
	opts.Course.Language = c.lang
	cf, err := course.ReadFile(c.input, opts)
	if err != nil {
		return &inputError{err}
	}
	lang := c.lang
	if lang == "" {
		lang = analysis.NormalizeLanguage(cf.Course.Language)
	}

	c.provider.keyless = c.cost.dryRun
	prov, note, err := c.provider.build(ctx, m.Getenv, c.batchSize)
	if err != nil {
		return err
	}
	if note != "" && !c.quiet {
		fmt.Fprintln(m.Stderr, note)
	}
	c.batchSize = prov.Batch
	if c.cost.dryRun {
		return m.dryRun(ctx, c, cf, lang, prov)
	}
	quote, err := c.cost.quote(prov)
	if err != nil {
		return err
	}
	ledger, err := c.cost.ledger(quote)
	if err != nil {
		return err
	}

	// The store is opened only after the input is valid: a rejected file stores nothing.
	st, err := bolt.Open(ctx, c.store, bolt.Options{})
	if err != nil {
		return err
	}
	defer st.Close()

	policy := retry.DefaultPolicy()
	policy.MaxRetries = c.retries
	an := &pipeline.Analyzer{
		Provider:    prov.Provider,
		Policy:      policy,
		Gate:        prov.Gate,
		Language:    lang,
		CallTimeout: prov.Timeout,
		Logger:      logger,
	}
	var progress pipeline.Progress
	if !c.quiet {
		progress = newProgress(m.Stderr, m.Terminal, m.Now)
	}
	r := &pipeline.Runner{
		Store:         st,
		Analyzer:      an,
		BatchSize:     c.batchSize,
		Force:         c.force,
		RetryDegraded: c.retryDegraded,
		MinConfidence: c.minConfidence,
		Progress:      progress,
		Logger:        logger,
		Cost:          ledger,
	}
	if c.maxPause > 0 && prov.Provider.Name() != "offline" {
		r.Breaker = &pipeline.BreakerConfig{MaxPause: c.maxPause}
	}
	res, err := r.Run(ctx, cf)
	if be, ok := errBudget(err); ok {
		budgetStop(m.Stderr, be)
		return errReported
	}
	if err != nil {
		return err
	}
	out := c.out
	if out == "" {
		out = filepath.Join(c.store, "results", res.JobID+".json")
	}
	if err := writeJSONFile(out, res); err != nil {
		return err
	}
	if c.format == "json" {
		if err := writeJSON(m.Stdout, res); err != nil {
			return err
		}
	} else {
		printSummary(m.Stdout, res, summaryInfo{out: out, heuristic: prov.Provider.Name() == "offline", batch: c.batchSize})
	}
	if st := res.Stats; st.Exercises > 0 && st.Degraded == st.Exercises {
		// A result made only of default analyses is a failed run, even though it is
		// stored (and --retry-degraded can finish it once the provider works).
		return fmt.Errorf("the provider failed every exercise (first error: %s); check its configuration, then run again with --retry-degraded", firstDegraded(res))
	}
	if st := res.Stats; st.Degraded > 0 {
		return &degradedError{degraded: st.Degraded, total: st.Exercises, first: firstDegraded(res)}
	}
	return nil
}

// writeJSONFile writes v as indented JSON to path atomically (temp file + rename), so
// a crash never leaves a half-written result file.
func writeJSONFile(path string, v any) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".examina-*.json")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeJSON(tmp, v); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func newLogger(w interface{ Write([]byte) (int, error) }, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level must be debug, info, warn or error, not %q", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// envReader supplies flag defaults from the environment and remembers the values it
// could not parse, keyed by the flag they feed: such a value is an error unless the
// flag itself is given (a flag always wins over its environment variable).
type envReader struct {
	get func(string) string
	bad map[string]string // flag name → problem
}

func (e *envReader) str(key, def string) string {
	if v := strings.TrimSpace(e.get(key)); v != "" {
		return v
	}
	return def
}

func (e *envReader) parse(flagName, key string, parse func(string) error) {
	v := strings.TrimSpace(e.get(key))
	if v == "" {
		return
	}
	if err := parse(v); err != nil {
		if e.bad == nil {
			e.bad = map[string]string{}
		}
		e.bad[flagName] = fmt.Sprintf("environment variable %s=%q is not valid for --%s", key, v, flagName)
	}
}

func (e *envReader) int(flagName, key string, def int) int {
	e.parse(flagName, key, func(v string) (err error) { def, err = strconv.Atoi(v); return err })
	return def
}

func (e *envReader) float(flagName, key string, def float64) float64 {
	e.parse(flagName, key, func(v string) (err error) { def, err = strconv.ParseFloat(v, 64); return err })
	return def
}

func (e *envReader) duration(flagName, key string, def time.Duration) time.Duration {
	e.parse(flagName, key, func(v string) (err error) { def, err = time.ParseDuration(v); return err })
	return def
}

// check reports an unparsable environment value whose flag was not given.
func (e *envReader) check(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range slices.Sorted(maps.Keys(e.bad)) {
		if !set[name] {
			return usagef("%s (unset it or pass --%s)", e.bad[name], name)
		}
	}
	return nil
}

var _ examina.Store = (*bolt.Store)(nil)
