package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/examina-dev/examina-serverless/shared/course"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK    = 0 // success
	exitRun   = 1 // the run failed or was interrupted
	exitUsage = 2 // bad usage or bad input
	// exitDegraded: the run finished and its result is stored, but some exercises
	// degraded to the default analysis (their retries ran out); --retry-degraded
	// retries only those. A run where every exercise degraded is a failure (exitRun).
	exitDegraded = 3
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Main is the program with its environment injected, so tests drive exactly the wiring
// the binary uses.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Terminal reports whether Stderr is an interactive terminal (progress bar vs
	// plain progress lines).
	Terminal bool
	Now      func() time.Time
}

// NewMain returns a Main bound to the process's streams and environment.
func NewMain() *Main {
	return &Main{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Getenv:   os.Getenv,
		Terminal: term.IsTerminal(int(os.Stderr.Fd())),
		Now:      time.Now,
	}
}

// usageError is a command-line mistake: exit code 2 with the message and a hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

const topUsage = `examina turns the exercises of a course's past exams into a map of topics and
solving procedures ("core loops"), analysing every exercise with an LLM in parallel.

Usage:
  examina <command> [flags]

Commands:
  analyze   analyse a course file and write the merged result (resumable)
  results   print the stored result of a job
  report    write a job's course map as one HTML page (or Markdown)
  jobs      list the stored jobs
  bench     run the benchmark scenarios (seed, heavy-tail, rate-limited, tpm-bound, overhead, cloud, cloud-rate-limited)
  score     compare a result with a labelled course (F1, adjusted Rand index, coverage)
  version   print the version

Run 'examina <command> --help' for a command's flags.
Quick start:  examina analyze --input examples/ade.json
`

// Run executes the command line args and returns the process exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, topUsage)
		return exitUsage
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "analyze", "analyse":
		err = m.analyze(ctx, rest)
	case "results", "result":
		err = m.results(ctx, rest)
	case "report":
		err = m.report(ctx, rest)
	case "jobs":
		err = m.jobs(ctx, rest)
	case "bench":
		err = m.bench(ctx, rest)
	case "score":
		err = m.score(ctx, rest)
	case "version", "--version", "-version", "-v":
		fmt.Fprintf(m.Stdout, "examina %s\n", version)
		return exitOK
	case "help", "--help", "-help", "-h":
		fmt.Fprint(m.Stdout, topUsage)
		return exitOK
	default:
		fmt.Fprintf(m.Stderr, "examina: unknown command %q\n\n%s", cmd, topUsage)
		return exitUsage
	}
	return m.exit(err)
}

func (m *Main) exit(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *usageError
	var ie *inputError
	var de *degradedError
	switch {
	case errors.As(err, &de):
		fmt.Fprintf(m.Stderr, "examina: %v\n", de)
		return exitDegraded
	case errors.As(err, &ue):
		fmt.Fprintf(m.Stderr, "examina: %s\n", ue.msg)
		return exitUsage
	case errors.As(err, &ie):
		var pe *course.ProblemsError
		if errors.As(err, &pe) {
			fmt.Fprintf(m.Stderr, "examina: %s has %d problem(s); nothing was analysed or stored:\n", pe.Source, len(pe.Problems))
			for _, p := range pe.Strings() {
				fmt.Fprintf(m.Stderr, "  - %s\n", p)
			}
			return exitUsage
		}
		fmt.Fprintf(m.Stderr, "examina: %s\n", ie.Error())
		return exitUsage
	case errors.Is(err, errReported):
		return exitRun
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(m.Stderr, "examina: interrupted; finished exercises are stored, run the same command again to resume")
		return exitRun
	}
	fmt.Fprintf(m.Stderr, "examina: %v\n", err)
	return exitRun
}

// degradedError says a finished run degraded some of its exercises (exit code 3).
type degradedError struct {
	degraded, total int
	first           string // the first degraded exercise's error
}

func (e *degradedError) Error() string {
	return fmt.Sprintf("%d of %d exercises degraded (first error: %s); the result is stored: run the same command with --retry-degraded to retry only those", e.degraded, e.total, e.first)
}

// errReported is a run failure whose explanation is already printed: exit code 1.
var errReported = errors.New("reported")

// inputError is a problem with the user's input file (exit code 2).
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// newFlagSet returns a flag set that writes its usage to Stdout for --help and
// reports parse errors as usage errors.
func (m *Main) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(m.Stdout, "Usage: examina %s\n\n", synopsis)
		fs.SetOutput(m.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

func (m *Main) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(flagsFirst(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err // the flag package has printed the usage
		}
		return usagef("%v (see 'examina %s --help')", err, fs.Name())
	}
	return nil
}

// flagsFirst moves positional arguments after the flags, so that
// `examina results JOB --format table` works like `examina results --format table JOB`
// (the flag package stops at the first positional argument). Everything after "--"
// stays positional.
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			return append(append(flags, "--"), positional...)
		case len(a) < 2 || a[0] != '-':
			positional = append(positional, a)
		default:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			f := fs.Lookup(name)
			if f == nil {
				continue // an unknown flag: Parse reports it
			}
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	if len(positional) == 0 {
		return flags
	}
	return append(append(flags, "--"), positional...)
}

// envOr returns the environment value of key, or def when unset.
func (m *Main) envOr(key, def string) string {
	if v := strings.TrimSpace(m.Getenv(key)); v != "" {
		return v
	}
	return def
}
