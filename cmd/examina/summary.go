package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

type summaryInfo struct {
	out       string
	heuristic bool
	batch     int
}

// printSummary writes the end-of-run summary: the figures, why no provider calls were
// made when that happens, and the topics with their core loops.
func printSummary(w io.Writer, res examina.Result, info summaryInfo) {
	st := res.Stats
	info.heuristic = info.heuristic || res.Provider == "offline"
	fmt.Fprintf(w, "\n%s — %s  (job %s)\n", res.Course.Code, res.Course.Name, res.JobID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	prov := fmt.Sprintf("%s (%s)", res.Provider, res.Model)
	if info.heuristic {
		prov += " — heuristic analysis, no LLM; choose one with --provider"
	}
	row := func(k string, v any) { fmt.Fprintf(tw, "  %s\t%v\n", k, v) }
	row("provider", prov)
	row("exercises in", st.Exercises)
	row("merged groups", st.MergedGroups)
	row("invalid dropped", st.Invalid)
	row("degraded", st.Degraded)
	row("low-confidence skipped", st.LowConfidenceSkipped)
	row("topics", len(res.Topics))
	row("core loops", len(res.CoreLoops))
	row("provider calls", fmt.Sprintf("%d (retries %d)", st.ProviderCalls, st.Retries))
	row("cache hits", st.CacheHits)
	row("resumed from store", st.Resumed)
	if st.InputTokens+st.OutputTokens > 0 {
		row("tokens", fmt.Sprintf("%d in, %d out", st.InputTokens, st.OutputTokens))
	}
	costRows(row, st.Cost)
	if st.WaitMS > 0 {
		row("waited in backoff", (time.Duration(st.WaitMS) * time.Millisecond).String())
	}
	row("elapsed", (time.Duration(st.ElapsedMS) * time.Millisecond).String())
	row("result file", info.out)
	tw.Flush()
	if st.ProviderCalls == 0 && st.Exercises > 0 {
		var why []string
		if st.Resumed > 0 {
			why = append(why, fmt.Sprintf("%d exercise(s) were already analysed in this job", st.Resumed))
		}
		if st.CacheHits > 0 {
			why = append(why, fmt.Sprintf("%d answer(s) came from the response cache", st.CacheHits))
		}
		fmt.Fprintf(w, "\nNo provider calls: %s. Use --force to analyse again.\n", strings.Join(why, "; "))
	}
	if info.heuristic {
		fmt.Fprintln(w, "\nThe offline analyzer is a heuristic: it learns topics from the course's own words, not its meaning. For an LLM's analysis set GROQ_API_KEY, ANTHROPIC_API_KEY or OPENAI_API_KEY, or run a local model with --provider ollama.")
	}
	if analysed := st.MergedGroups; analysed > 0 && 2*st.LowConfidenceSkipped > analysed {
		fmt.Fprintf(w, "\nMost groups fell below the confidence threshold (%d of %d, threshold %.2g): they are left out of the topics and core loops. The course may be too varied for this provider; try an LLM, or lower --min-confidence.\n",
			st.LowConfidenceSkipped, analysed, minConfidence(res))
	}
	if st.Degraded > 0 {
		fmt.Fprintf(w, "\n%d exercise(s) degraded after their retries ran out (first error: %s); run again with --retry-degraded to retry only those.\n", st.Degraded, firstDegraded(res))
	}
	if len(res.Topics) == 0 {
		return
	}
	fmt.Fprintln(w, "\nTopics")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TOPIC\tEXERCISES\tCORE LOOPS")
	for _, t := range res.Topics {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", t.Name, t.ExerciseCount, strings.Join(t.CoreLoops, ", "))
	}
	tw.Flush()
}

// minConfidence is the run's aggregation threshold (0.5 when the document predates it).
func minConfidence(res examina.Result) float64 {
	if res.MinConfidence > 0 {
		return res.MinConfidence
	}
	return 0.5
}

// firstDegraded returns the error of the first degraded exercise, in position order.
func firstDegraded(res examina.Result) string {
	for _, r := range res.Exercises {
		if r.Analysis.Status == examina.StatusDegraded {
			return r.Analysis.Error
		}
	}
	return ""
}
