package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/bench"
)

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"help", []string{"bench", "--help"}, exitOK, "--scenario", ""},
		{"unknown scenario", []string{"bench", "--scenario", "nope"}, exitUsage, "", `unknown --scenario "nope"`},
		{"quick only for seed", []string{"bench", "--scenario", "overhead", "--quick"}, exitUsage, "", "--quick applies to the seed scenario only"},
		{"no arguments", []string{"bench", "extra"}, exitUsage, "", "bench takes no arguments"},
		{"bad input", []string{"bench", "--quick", "--input", "does-not-exist.json"}, exitUsage, "", "does-not-exist.json"},
		{"listed in the top usage", []string{"help"}, exitOK, "bench ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.inStdout) || !strings.Contains(stderr, tt.inStderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
		})
	}
}

// TestBenchSeedQuick runs the command scripts/test runs, with the example course, and
// checks the report's figures are consistent (never how fast they are).
func TestBenchSeedQuick(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	code, stdout, stderr := run(t, nil, "bench", "--scenario", "seed", "--quick", "--input", example, "--json", out, "--dir", t.TempDir())
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"sequential", "waves", "sliding", "reproduce: examina bench --scenario seed --quick --input " + example, "report written to"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != "seed" || len(rep.Scenarios[0].Rows) != 3 {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Scenarios[0].Rows {
		if r.Values["calls"] != 27 || r.Values["degraded"] != 0 {
			t.Errorf("%s: %v", r.Name, r.Values)
		}
	}
}
