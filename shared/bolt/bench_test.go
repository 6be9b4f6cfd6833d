package bolt

import (
	"fmt"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/testkit/storetest"
)

// benchModes runs a benchmark with fsync on commit (the product's setting) and without.
var benchModes = []struct {
	name   string
	noSync bool
}{{"fsync", false}, {"nosync", true}}

// BenchmarkPutResults writes batches of 100 results, one transaction per batch: the
// pipeline's write path.
func BenchmarkPutResults(b *testing.B) {
	const batch = 100
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			s := benchStore(b, m.noSync)
			rs := make([]examina.ExerciseResult, batch)
			n := 0
			for b.Loop() {
				for i := range rs {
					rs[i] = storetest.Result(n % (MaxPosition + 1))
					n++
				}
				if err := s.PutResults(b.Context(), fmt.Sprintf("job-%d", n/1_000_000), rs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "results/s")
		})
	}
}

// BenchmarkPutResult writes one result per transaction.
func BenchmarkPutResult(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			s := benchStore(b, m.noSync)
			n := 0
			for b.Loop() {
				if err := s.PutResult(b.Context(), "job", storetest.Result(n%(MaxPosition+1))); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "results/s")
		})
	}
}

// BenchmarkResults reads back a job of 1,000 results.
func BenchmarkResults(b *testing.B) {
	s := benchStore(b, true)
	rs := make([]examina.ExerciseResult, 1000)
	for i := range rs {
		rs[i] = storetest.Result(i)
	}
	if err := s.PutResults(b.Context(), "job", rs); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, err := s.Results(b.Context(), "job")
		if err != nil || len(got) != len(rs) {
			b.Fatalf("Results: %d results, err %v", len(got), err)
		}
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "results/s")
}

func benchStore(b *testing.B, noSync bool) *Store {
	b.Helper()
	s, err := Open(b.Context(), b.TempDir(), Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
