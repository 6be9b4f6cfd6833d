package bench

import (
	"container/heap"
	"slices"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/simulated"
)

// IdealSliding is the makespan of the sliding window with zero overhead: exercises
// start in course order, each on the first of batch slots to free up, and take their
// planned first-call latency. It is the best the Runner's schedule can do for these
// latencies (Bounds.Window is a looser bound no in-order schedule may reach).
func IdealSliding(cf examina.CourseFile, sim simulated.Config, batch int) time.Duration {
	p := simulated.New(sim)
	free := make(durHeap, batch) // when each slot frees up
	var end time.Duration
	for _, ex := range cf.Exercises {
		start := heap.Pop(&free).(time.Duration)
		fin := start + p.Planned(ex.ID, 1).Latency
		end = max(end, fin)
		heap.Push(&free, fin)
	}
	return end
}

type durHeap []time.Duration

func (h durHeap) Len() int           { return len(h) }
func (h durHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h durHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *durHeap) Push(x any)        { *h = append(*h, x.(time.Duration)) }
func (h *durHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// idealSpread draws the latencies of cf with seeds 1..draws and returns the median
// ideal sliding-window time and the median and 90th percentile of the ratio of the ideal
// waves time to it: what the seed scenario's targets can be, whatever the overhead.
func idealSpread(cf examina.CourseFile, sim simulated.Config, batch, draws int) (median time.Duration, medianRatio, p90Ratio float64) {
	times := make([]time.Duration, draws)
	ratios := make([]float64, draws)
	for i := range draws {
		sim.Seed = int64(i + 1)
		s := IdealSliding(cf, sim, batch)
		times[i] = s
		ratios[i] = PlannedBounds(cf, sim, batch).Waves.Seconds() / s.Seconds()
	}
	slices.Sort(times)
	slices.Sort(ratios)
	return times[draws/2], ratios[draws/2], ratios[draws*9/10]
}
