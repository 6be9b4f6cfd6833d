package cloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/bench"
	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/course"
)

// dispatchMemoryMiB is DispatchFunction's MemorySize in template.yaml (checked by
// shared/template's TestFunctionMemoryLimits); GOMEMLIMIT is 90% of it.
const dispatchMemoryMiB = 512

// heapPeak samples the live heap until stop is called and returns the peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestFanOutFiveThousandExercises dispatches a course at the exercise limit (5,000
// exercises, a file near the 10 MiB limit) on the emulator: the S3 upload records the
// job, the fan-out sends one message per exercise. It prints the time and the peak
// heap and fails if the heap would not fit the dispatch function's memory.
func TestFanOutFiveThousandExercises(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5,000-exercise job on the emulator")
	}
	s := newStack(t)
	d := s.dispatcher()
	q := &countingQueue{}
	d.Queue = q
	cf := bench.Course(course.DefaultLimits().MaxExercises, 11)
	pad := strings.Repeat(" Si giustifichi ogni passaggio.", 55)
	for i := range cf.Exercises {
		cf.Exercises[i].Text += pad
	}
	data, err := json.Marshal(cf)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) > course.DefaultLimits().MaxFileBytes {
		t.Fatalf("course file %d bytes over the limit", len(data))
	}
	key := "input/ADE/big.json"
	s.put(key, data)
	runtime.GC()

	stop := heapPeak()
	start := time.Now()
	if _, err := d.Handle(s.ctx, s.s3Event(key, "etag-big")); err != nil {
		t.Fatal(err)
	}
	recorded := time.Since(start)
	job := cloud.JobID("ADE", s.st.BucketName+"/"+key+"/etag-big")
	if j, err := s.store.GetJob(s.ctx, job); err != nil || len(j.Problems) > 0 {
		t.Fatalf("job %+v, %v", j.Problems[:min(3, len(j.Problems))], err)
	}
	start = time.Now()
	raw, _ := json.Marshal(map[string]string{"action": "fanout", "job_id": job, "task_token": "tok-big"})
	if _, err := d.Handle(s.ctx, raw); err != nil {
		t.Fatal(err)
	}
	fanned := time.Since(start)
	peak := stop()

	if q.bodies != len(cf.Exercises) {
		t.Fatalf("sent %d messages, want %d", q.bodies, len(cf.Exercises))
	}
	t.Logf("5,000 exercises, %.1f MiB file: recorded in %v, fanned out in %v (DynamoDB and S3 on the emulator, %d SendMessageBatch calls counted, largest message %d bytes); peak live heap %.1f MiB of GOMEMLIMIT %d MiB",
		float64(len(data))/(1<<20), recorded.Round(time.Millisecond), fanned.Round(time.Millisecond), q.batches, q.largest, float64(peak)/(1<<20), dispatchMemoryMiB*9/10)
	// The test process's heap also holds the course file, its copy in the test and
	// the SDK clients: a bound on the function's own need.
	if limit := uint64(dispatchMemoryMiB*9/10) << 20 / 2; peak > limit {
		t.Errorf("peak live heap %d MiB, over half the dispatch function's GOMEMLIMIT (%d MiB)", peak>>20, limit>>20)
	}
}

// countingQueue stands in for SQS (moto's SendMessageBatch takes about 170 ms here,
// 85 s for 500 batches): it checks each body against SQS's 256 KiB limit and counts.
type countingQueue struct {
	bodies, batches int
	largest         int
}

func (q *countingQueue) SendAll(_ context.Context, bodies []string) error {
	for _, b := range bodies {
		if len(b) > 256<<10 {
			return fmt.Errorf("a %d-byte message is over SQS's 256 KiB", len(b))
		}
		q.largest = max(q.largest, len(b))
	}
	q.bodies += len(bodies)
	q.batches += (len(bodies) + 9) / 10
	return nil
}
