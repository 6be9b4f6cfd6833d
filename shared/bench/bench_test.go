package bench

import (
	"fmt"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/merge"
)

// BenchmarkRunner10k runs 10,000 exercises through the whole local pipeline (Runner,
// Analyzer, fsync'ing bolt store, merge) with the instant provider: one op is one run.
//
//	go test -run '^$' -bench Runner10k -benchtime 3x ./shared/bench
func BenchmarkRunner10k(b *testing.B) {
	b.ReportAllocs()
	var e EndToEnd
	for b.Loop() {
		var err error
		if e, err = RunEndToEnd(b.Context(), b.TempDir(), 10_000, 10); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(e.Exercises)/e.Elapsed.Seconds(), "exercises/s")
	b.ReportMetric(float64(e.PeakHeap)/(1<<20), "peak-heap-MiB")
}

// BenchmarkMergeBuild measures merge.Build over the scenario's generated analyses.
//
//	go test -run '^$' -bench MergeBuild -benchmem ./shared/bench
func BenchmarkMergeBuild(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			in := Analyses(n, 42)
			b.ReportAllocs()
			for b.Loop() {
				merge.Build(in, merge.Options{})
			}
		})
	}
}
