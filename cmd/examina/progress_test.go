package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
)

var _ pipeline.PauseReporter = (*progress)(nil)

// TestProgressShowsPause: a pause of the breaker is announced, shown in the progress
// line while it lasts, and its end announced.
func TestProgressShowsPause(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	p := newProgress(&out, false, func() time.Time { return now })
	p.Start(3, 0, 3)
	p.Paused(now, errors.New("openai: connection: dial tcp 127.0.0.1:8080: connect: connection refused"))
	now = now.Add(12 * time.Second)
	p.Done(examina.ExerciseResult{Analysis: examina.Analysis{Meta: examina.Meta{Status: examina.StatusOK, Attempts: 1}}})
	p.Resumed(20*time.Second, false)
	now = now.Add(2 * time.Second)
	p.Done(examina.ExerciseResult{Analysis: examina.Analysis{Meta: examina.Meta{Status: examina.StatusOK, Attempts: 1}}})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"paused: the provider is down (openai: connection", "paused 12s (provider down)", "resumed: the provider answers again after a pause of 20s", "progress: 2/3"}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Fatalf("line %d %q lacks %q", i, lines[i], w)
		}
	}
	if strings.Contains(lines[3], "paused") {
		t.Fatalf("line %q still shows the pause", lines[3])
	}
}
