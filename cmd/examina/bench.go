package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/bench"
	"github.com/examina-dev/examina-serverless/shared/course"
)

// benchScenarios returns the scenarios of `examina bench`, in the order "all" runs them.
func benchScenarios() []string {
	return []string{"seed", "heavy-tail", "rate-limited", "tpm-bound", "overhead", "cloud", "cloud-rate-limited"}
}

// benchConfig is what `examina bench` is told.
type benchConfig struct {
	scenario string
	jsonPath string
	quick    bool
	input    string
	seed     int64
	dir      string
}

func (m *Main) bench(ctx context.Context, args []string) error {
	fs := m.newFlagSet("bench", "bench --scenario "+strings.Join(benchScenarios(), "|")+"|all [--json FILE] [--quick]")
	var c benchConfig
	fs.StringVar(&c.scenario, "scenario", "seed", "scenario to run: "+strings.Join(benchScenarios(), ", ")+" or all")
	fs.StringVar(&c.jsonPath, "json", "", "also write the JSON report to FILE (- for stdout)")
	fs.BoolVar(&c.quick, "quick", false, "seed scenario only: latencies divided by 10 (a smoke run of a few seconds)")
	fs.StringVar(&c.input, "input", "", "seed scenario: analyse the first 27 exercises of this course file instead of a generated course")
	fs.Int64Var(&c.seed, "seed", 1, "random seed of the simulated latencies")
	fs.StringVar(&c.dir, "dir", "", "directory for the temporary stores (default: the system's temp directory)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("bench takes no arguments (see 'examina bench --help')")
	}
	var names []string
	switch c.scenario {
	case "all":
		names = benchScenarios()
	default:
		if !slices.Contains(benchScenarios(), c.scenario) {
			return usagef("unknown --scenario %q: use %s or all", c.scenario, strings.Join(benchScenarios(), ", "))
		}
		names = []string{c.scenario}
	}
	if c.quick && c.scenario != "seed" {
		return usagef("--quick applies to the seed scenario only")
	}
	report := bench.Report{Machine: bench.ThisMachine(m.Now())}
	fmt.Fprintf(m.Stdout, "examina bench on %s/%s, %d CPU(s), GOMAXPROCS %d, %s\n\n",
		report.Machine.GOOS, report.Machine.GOARCH, report.Machine.NumCPU, report.Machine.GOMAXPROCS, report.Machine.GoVersion)
	for _, name := range names {
		s, err := m.runScenario(ctx, name, c)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		if err := s.Print(m.Stdout); err != nil {
			return err
		}
		report.Scenarios = append(report.Scenarios, s)
	}
	if c.jsonPath != "" {
		if err := report.WriteJSON(c.jsonPath, m.Stdout); err != nil {
			return err
		}
		if c.jsonPath != "-" {
			fmt.Fprintf(m.Stdout, "report written to %s\n", c.jsonPath)
		}
	}
	return nil
}

func (m *Main) runScenario(ctx context.Context, name string, c benchConfig) (*bench.Scenario, error) {
	switch name {
	case "seed":
		cfg := bench.SeedConfig{Seed: c.seed, Dir: c.dir}
		cmd := []string{"examina bench --scenario seed"}
		if c.quick {
			q := bench.QuickSeed()
			cfg.Latency, cfg.Jitter = q.Latency, q.Jitter
			cmd = append(cmd, "--quick")
		}
		if c.input != "" {
			cf, err := course.ReadFile(c.input, course.Options{})
			if err != nil {
				return nil, &inputError{err}
			}
			cf.Exercises = cf.Exercises[:min(27, len(cf.Exercises))]
			cfg.Course = cf
			cmd = append(cmd, "--input "+c.input)
		}
		if c.seed != 1 {
			cmd = append(cmd, fmt.Sprintf("--seed %d", c.seed))
		}
		cfg.Command = strings.Join(cmd, " ")
		return bench.Seed(ctx, cfg)
	case "heavy-tail":
		cmd := "examina bench --scenario heavy-tail"
		if c.seed != 1 {
			cmd += fmt.Sprintf(" --seed %d", c.seed)
		}
		return bench.HeavyTail(ctx, bench.HeavyTailConfig{Seed: c.seed, Dir: c.dir, Command: cmd})
	case "rate-limited":
		return bench.RateLimited(ctx, bench.RateLimitedConfig{})
	case "cloud":
		return bench.Cloud(ctx, bench.CloudConfig{})
	case "cloud-rate-limited":
		return bench.CloudLimited(ctx, bench.CloudLimitedConfig{Dir: c.dir})
	case "tpm-bound":
		return bench.TPMBound(ctx, bench.TPMBoundConfig{})
	case "overhead":
		return bench.Overhead(ctx, bench.OverheadConfig{Dir: c.dir})
	}
	return nil, fmt.Errorf("scenario %s is not implemented yet", name)
}
