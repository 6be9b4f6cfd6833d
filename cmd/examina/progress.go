package main

import (
	"fmt"
	"io"
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
		p.bar.Describe(fmt.Sprintf("analysing (retries %d, degraded %d)", p.retries, p.degraded))
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
	return fmt.Sprintf("progress: %d/%d (%.0f%%) %.1f ex/s eta %s retries %d degraded %d cached %d",
		p.done, p.total, 100*float64(p.done)/float64(max(p.total, 1)), rate, eta, p.retries, p.degraded, p.cached)
}

func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
