package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	minConfidence          float64
	force, retryDegraded   bool
	out, format, store     string
	limits                 course.Limits
	logLevel               string
	quiet                  bool
}

func (m *Main) analyzeFlags(fs *flag.FlagSet) *analyzeConfig {
	c := &analyzeConfig{}
	fs.StringVar(&c.input, "input", "", "course file to analyse (.json, or .jsonl with --course)")
	fs.StringVar(&c.inputFormat, "input-format", "", "json or jsonl (default: from the file)")
	fs.StringVar(&c.courseCode, "course", "", "course code (required for JSONL; overrides the file's)")
	fs.StringVar(&c.courseName, "course-name", "", "course name (JSONL; default: the code)")
	fs.StringVar(&c.lang, "lang", m.envOr("EXAMINA_LANG", ""), "output language: en or it (default: the course's; env EXAMINA_LANG)")
	c.provider.register(fs, m.envOr)
	fs.IntVar(&c.batchSize, "batch-size", envInt(m.envOr, "EXAMINA_BATCH_SIZE", 10), "most provider calls in flight (env EXAMINA_BATCH_SIZE)")
	fs.BoolVar(&c.sequential, "sequential", false, "one call at a time (same as --batch-size 1)")
	fs.IntVar(&c.retries, "retries", envInt(m.envOr, "EXAMINA_RETRIES", 2), "retries per exercise after the first attempt (env EXAMINA_RETRIES)")
	fs.Float64Var(&c.minConfidence, "min-confidence", envFloat(m.envOr, "EXAMINA_MIN_CONFIDENCE", 0.5), "aggregate topics and core loops above this confidence (env EXAMINA_MIN_CONFIDENCE)")
	fs.BoolVar(&c.force, "force", false, "re-analyse every exercise, ignoring stored results and the cache")
	fs.BoolVar(&c.retryDegraded, "retry-degraded", false, "re-analyse exercises whose stored analysis is degraded")
	fs.StringVar(&c.out, "out", "", "write the result document (JSON) to this file (default: <store>/results/<job>.json)")
	fs.StringVar(&c.format, "format", "table", "summary on stdout: table or json (the whole result document)")
	fs.StringVar(&c.store, "store", m.envOr("EXAMINA_STORE", ".examina"), "embedded store directory (env EXAMINA_STORE)")
	d := course.DefaultLimits()
	fs.IntVar(&c.limits.MaxExerciseChars, "max-exercise-chars", d.MaxExerciseChars, "largest exercise text, in characters")
	fs.IntVar(&c.limits.MaxExercises, "max-exercises", d.MaxExercises, "most exercises in a course file")
	fs.Int64Var(&c.limits.MaxFileBytes, "max-file-bytes", d.MaxFileBytes, "largest course file, in bytes")
	fs.StringVar(&c.logLevel, "log-level", m.envOr("EXAMINA_LOG_LEVEL", "warn"), "debug, info, warn or error (env EXAMINA_LOG_LEVEL); logs go to stderr")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress output")
	return c
}

func (m *Main) analyze(ctx context.Context, args []string) error {
	fs := m.newFlagSet("analyze", "analyze --input FILE [flags]")
	c := m.analyzeFlags(fs)
	if err := m.parse(fs, args); err != nil {
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
	if c.minConfidence <= 0 || c.minConfidence > 1 {
		return usagef("--min-confidence must be above 0 and at most 1, not %g", c.minConfidence)
	}
	if c.lang != "" && c.lang != "en" && c.lang != "it" {
		return usagef("--lang must be en or it, not %q", c.lang)
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

	prov, note, err := c.provider.build(ctx, m.Getenv, c.batchSize)
	if err != nil {
		return err
	}
	if note != "" && !c.quiet {
		fmt.Fprintln(m.Stderr, note)
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
	}
	res, err := r.Run(ctx, cf)
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
		return writeJSON(m.Stdout, res)
	}
	printSummary(m.Stdout, res, summaryInfo{out: out, heuristic: prov.Provider.Name() == "offline", batch: c.batchSize})
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

func envInt(env func(string, string) string, key string, def int) int {
	if v, err := strconv.Atoi(env(key, "")); err == nil {
		return v
	}
	return def
}

func envFloat(env func(string, string) string, key string, def float64) float64 {
	if v, err := strconv.ParseFloat(env(key, ""), 64); err == nil {
		return v
	}
	return def
}

func envDuration(env func(string, string) string, key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(env(key, "")); err == nil {
		return v
	}
	return def
}

var _ examina.Store = (*bolt.Store)(nil)
