package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/schollz/progressbar/v3"
)

// newProgress returns a progress bar on a terminal, plain lines (at most one a second)
// otherwise.
func newProgress(w io.Writer, terminal bool, now func() time.Time) *progress {
	return &progress{w: w, terminal: terminal, now: now}
}

// progress reports done/total, rate, ETA and retries.
type progress struct {
	w        io.Writer
	terminal bool
	now      func() time.Time

	bar              *progressbar.ProgressBar
	total, done      int
	todo, processed  int
	retries, cached  int
	degraded         int
	start, lastPrint time.Time

	// The breaker's pause, reported from the workers (Paused, Resumed).
	mu          sync.Mutex
	pausedSince time.Time
	pauseErr    string
}

// Paused shows that the whole run waits for the provider (pipeline.PauseReporter).
func (p *progress) Paused(since time.Time, err error) {
	p.mu.Lock()
	p.pausedSince, p.pauseErr = since, err.Error()
	p.mu.Unlock()
	if p.bar != nil {
		p.bar.Describe("paused: provider down, probing")
		return
	}
	fmt.Fprintf(p.w, "paused: the provider is down (%s); every worker waits and one call probes it\n", err)
}

// Resumed shows the end of a pause.
func (p *progress) Resumed(paused time.Duration, gaveUp bool) {
	p.mu.Lock()
	p.pausedSince = time.Time{}
	p.mu.Unlock()
	msg := fmt.Sprintf("resumed: the provider answers again after a pause of %s", paused.Round(100*time.Millisecond))
	if gaveUp {
		msg = fmt.Sprintf("resumed: gave up waiting after %s (--max-pause); failing exercises degrade", paused.Round(100*time.Millisecond))
	}
	if p.bar != nil {
		p.bar.Describe(msg)
		return
	}
	fmt.Fprintln(p.w, msg)
}

// pause is the progress line's note of a pause in progress, "" when none.
func (p *progress) pause(now time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pausedSince.IsZero() {
		return ""
	}
	return fmt.Sprintf(" paused %s (provider down)", now.Sub(p.pausedSince).Round(time.Second))
}

func (p *progress) Start(total, resumed, todo int) {
	p.total, p.done, p.todo = total, resumed, todo
	p.start = p.now()
	if resumed > 0 {
		fmt.Fprintf(p.w, "resuming: %d of %d exercises already analysed, %d to go\n", resumed, total, todo)
	}
	if todo == 0 {
		return
	}
	if p.terminal {
		p.bar = progressbar.NewOptions(todo,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("analysing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("ex"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
		)
	}
}

func (p *progress) Done(r examina.ExerciseResult) {
	p.done++
	p.processed++
	switch r.Analysis.Status {
	case examina.StatusCached:
		p.cached++ // its attempts were made by an earlier run
	case examina.StatusDegraded:
		p.degraded++
		p.retries += max(r.Analysis.Attempts-1, 0)
	default:
		p.retries += max(r.Analysis.Attempts-1, 0)
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("analysing (retries %d, degraded %d)%s", p.retries, p.degraded, p.pause(p.now())))
		_ = p.bar.Add(1)
		return
	}
	if now := p.now(); now.Sub(p.lastPrint) >= time.Second || p.processed == p.todo {
		p.lastPrint = now
		fmt.Fprintln(p.w, p.line(now))
	}
}

func (p *progress) line(now time.Time) string {
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.processed) / el
	}
	eta := "-"
	if rate > 0 {
		eta = (time.Duration(float64(p.todo-p.processed) / rate * float64(time.Second))).Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("progress: %d/%d (%.0f%%) %.1f ex/s eta %s retries %d degraded %d cached %d%s",
		p.done, p.total, 100*float64(p.done)/float64(max(p.total, 1)), rate, eta, p.retries, p.degraded, p.cached, p.pause(now))
}

func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
