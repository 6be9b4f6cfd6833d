package main

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// buildBinary builds the examina command once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "examina")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// storedJob opens the store (which must be readable) and returns its only job and
// the number of stored results.
func storedJob(t *testing.T, dir string) (examina.Job, int) {
	t.Helper()
	ctx := context.Background()
	st, err := bolt.Open(ctx, dir, bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("store unreadable after the interruption: %v", err)
	}
	defer st.Close()
	jobs, err := st.ListJobs(ctx)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs = %v, %v; want exactly one", jobs, err)
	}
	rs, err := st.Results(ctx, jobs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return jobs[0], len(rs)
}

// TestInterruptions really stops the process mid-run, with SIGINT, SIGTERM and
// SIGKILL, and checks the store is readable, keeps finished work, and the next run
// resumes and completes.
func TestInterruptions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "store")
			args := []string{"analyze", "--input", example, "--store", store, "--provider", "simulated",
				"--latency", "150ms", "--jitter", "20ms", "--batch-size", "2"}
			cmd := exec.Command(bin, args...)
			pipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// 35 exercises at 2 in flight take about 2.8s. Wait for the first progress
			// line (an exercise finished), then for a flush (every 200ms), then stop it.
			var stderr bytes.Buffer
			progressed, scanned := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(scanned)
				sc := bufio.NewScanner(pipe)
				once := false
				for sc.Scan() {
					stderr.WriteString(sc.Text() + "\n")
					if !once && strings.HasPrefix(sc.Text(), "progress:") {
						once = true
						close(progressed)
					}
				}
			}()
			select {
			case <-progressed:
			case <-time.After(30 * time.Second):
				t.Fatal("no progress line within 30s")
			}
			time.Sleep(500 * time.Millisecond)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			<-scanned // all of stderr read before Wait closes the pipe
			err = cmd.Wait()
			if err == nil {
				t.Fatalf("the run finished before the %v; make it longer", sig)
			}
			job, stored := storedJob(t, store)
			if stored == 0 || stored >= job.Total {
				t.Fatalf("after %v: %d of %d results stored, want some but not all", sig, stored, job.Total)
			}
			if sig != syscall.SIGKILL {
				if code := cmd.ProcessState.ExitCode(); code != exitRun {
					t.Errorf("exit code %d after %v, want %d", code, sig, exitRun)
				}
				if job.Status != examina.JobCancelled || !strings.Contains(stderr.String(), "resume") {
					t.Errorf("job status %s, stderr %q; want cancelled and a hint to resume", job.Status, stderr.String())
				}
			}
			out, err := exec.Command(bin, append(args, "--format", "json", "--quiet")...).Output()
			if err != nil {
				t.Fatalf("resume run: %v", err)
			}
			if !bytes.Contains(out, []byte(`"resumed": `+itoa(stored))) {
				t.Fatalf("the resumed run did not skip the %d stored exercises:\n%.400s", stored, out)
			}
			job, n := storedJob(t, store)
			if job.Status != examina.JobCompleted || n != job.Total {
				t.Fatalf("after resume: status %s, %d/%d results", job.Status, n, job.Total)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
