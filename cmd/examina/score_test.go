package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/score"
)

func TestScoreCourses(t *testing.T) {
	jsonOut := filepath.Join(t.TempDir(), "scores.json")
	code, stdout, stderr := run(t, nil, "score", "--courses", "../../testdata/courses", "--json", jsonOut)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	var reps []score.Report
	if err := json.Unmarshal(b, &reps); err != nil {
		t.Fatal(err)
	}
	heldOut := 0
	for _, r := range reps {
		if !strings.Contains(stdout, r.Course) || r.Items == 0 || r.RefTopics == 0 {
			t.Errorf("report %+v missing from the table or empty:\n%s", r, stdout)
		}
		if r.Split == "heldout" {
			heldOut++
			if !strings.Contains(stdout, "held-out "+r.Course+": ") {
				t.Errorf("no target line for held-out %s:\n%s", r.Course, stdout)
			}
		}
	}
	if len(reps) < 4 || heldOut == 0 {
		t.Errorf("%d reports, %d held out", len(reps), heldOut)
	}
}

func TestScoreOneResult(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "so.json")
	if code, stdout, stderr := run(t, nil, "analyze", "--input", "../../testdata/courses/so-it.json", "--store", filepath.Join(dir, "store"), "--out", out, "--quiet"); code != exitOK {
		t.Fatalf("analyze: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr := run(t, nil, "score", "--labels", "../../testdata/courses/so-it.labels.json", "--result", out)
	if code != exitOK || !strings.Contains(stdout, "so-it") || !strings.Contains(stdout, "TOPIC ARI") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A result of another course is refused with the reason.
	code, _, stderr = run(t, nil, "score", "--labels", "../../testdata/courses/db-en.labels.json", "--result", out)
	if code != exitUsage || !strings.Contains(stderr, "labelled course file") {
		t.Fatalf("mismatched labels: exit %d\n%s", code, stderr)
	}
	for _, args := range [][]string{{"score"}, {"score", "--labels", "x"}, {"score", "--courses", "d", "--result", "r"}} {
		if code, _, _ := run(t, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestSummaryNotes(t *testing.T) {
	tests := []struct {
		name                  string
		provider              string
		groups, low           int
		wantHeuristic, wantLo bool
	}{
		{"offline, clear course", "offline", 10, 2, true, false},
		{"offline, unclear course", "offline", 10, 6, true, true},
		{"llm, half below", "openai", 10, 5, false, false},
		{"llm, most below", "openai", 3, 2, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			res := examina.Result{Provider: tt.provider, MinConfidence: 0.5,
				Stats: examina.Stats{Exercises: tt.groups, MergedGroups: tt.groups, LowConfidenceSkipped: tt.low, ProviderCalls: tt.groups}}
			printSummary(&b, res, summaryInfo{})
			out := b.String()
			if got := strings.Contains(out, "offline analyzer is a heuristic") && strings.Contains(out, "--provider"); got != tt.wantHeuristic {
				t.Errorf("heuristic note %v, want %v:\n%s", got, tt.wantHeuristic, out)
			}
			if got := strings.Contains(out, "Most groups fell below the confidence threshold"); got != tt.wantLo {
				t.Errorf("low-confidence note %v, want %v:\n%s", got, tt.wantLo, out)
			}
		})
	}
}
