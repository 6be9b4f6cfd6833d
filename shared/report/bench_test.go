package report_test

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/report"
)

// largeResult is a course of n exercises over 20 exam sessions and 40 topics (two core
// loops each), every fifth a fragment merged into the one before, texts of ~400 bytes.
func largeResult(n int) examina.Result {
	results := make([]examina.ExerciseResult, n)
	text := strings.Repeat("Si consideri il circuito e se ne calcoli il ritardo. ", 8)
	for i := range results {
		topic := fmt.Sprintf("Topic %02d", i%40)
		a := ok(topic, fmt.Sprintf("Loop %02d-%d", i%40, i%2), 0.5+float64(i%5)/10, "medium", "variation "+fmt.Sprint(i%7))
		if i%5 == 4 {
			a.ShouldMergeWithPrevious = true
		}
		results[i] = examina.ExerciseResult{
			Exercise: examina.Exercise{ID: fmt.Sprintf("ex-%05d", i), Number: fmt.Sprint(i%12 + 1), Text: text, Page: i%6 + 1,
				Source: fmt.Sprintf("EXM-%02d.pdf", i*20/n), Position: i},
			Analysis: a,
		}
	}
	job := examina.Job{ID: "exm-0123456789ab", Course: examina.Course{Code: "EXM", Name: "Large course", Language: "it"}, Provider: "openai", Model: "gpt-4o-mini"}
	return pipeline.Assemble(job, results, 0.5)
}

// BenchmarkHTML renders the page of a 2,000-exercise course and reports its size per
// merged exercise, which says how large a course fits a Lambda response inline
// (cloud.DefaultReportInlineBytes).
func BenchmarkHTML(b *testing.B) {
	res := largeResult(2000)
	page, err := report.HTMLBytes(res)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := report.HTML(io.Discard, res); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(page)), "page-bytes")
	b.ReportMetric(float64(len(page))/float64(len(res.MergedExercises)), "bytes/merged-exercise")
	// In a Lambda response the page is a JSON string: '<', '>' and '&' take 6 bytes.
	escaped, _ := json.Marshal(string(page))
	b.ReportMetric(float64(len(escaped))/float64(len(res.MergedExercises)), "json-bytes/merged-exercise")
}

func BenchmarkMarkdown(b *testing.B) {
	res := largeResult(2000)
	b.ReportAllocs()
	for b.Loop() {
		if err := report.Markdown(io.Discard, res); err != nil {
			b.Fatal(err)
		}
	}
}
