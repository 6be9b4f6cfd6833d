package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// FunctionLog is what a function's log on the local stack says about a run: the
// Lambda runtime emulator's REPORT line of every invocation, the analyze function's
// "fleet budget" JSON lines (one per invocation with a budget), summed, and its
// re-sends of deferred exercises and redelivered failures, counted.
type FunctionLog struct {
	Invocations int           // REPORT lines
	Billed      time.Duration // the sum of their Duration values
	BudgetLines int           // "fleet budget" lines
	Budget      BudgetTotals  // their attributes, summed
	// Resent counts the "exercise deferred to its rate-limit slot" lines: exercises
	// re-sent to the queue with a delay (for the budget or a provider's Retry-After),
	// ResentDelay sums their delays and ResentHerd is the most of them due back in the
	// same second (the line's time plus its delay).
	Resent      int
	ResentDelay time.Duration
	ResentHerd  int
	// Failed counts the "analysis failed: message will be redelivered" lines.
	Failed int
}

// Messages of the analyze function's log that ParseFunctionLog reads.
const (
	msgBudget   = "fleet budget"
	msgDeferred = "exercise deferred to its rate-limit slot"
	msgFailed   = "analysis failed: message will be redelivered"
)

// BudgetTotals are the sums of the "fleet budget" lines' attributes.
type BudgetTotals struct {
	Requests    int           // budget_requests: DynamoDB requests of the fleet budget
	Calls       int           // budget_calls: provider calls it admitted
	Deferred    int           // budget_deferred: calls deferred to a later slot
	Unbooked    int           // budget_unbooked: deferrals made without a booked slot
	Conflicts   int           // budget_conflicts: conditional-write conflicts
	PastHorizon int           // budget_past_horizon: of them, bookings refused past the horizon
	Waited      time.Duration // budget_waited_ms: time slept for slots
}

// maxLogLine bounds one line of a function log (the function's JSON lines are short;
// a longer line is not a log this parser knows).
const maxLogLine = 1 << 20

// ParseFunctionLog reads a function's log as the stack's RIE pool writes it
// (DIR/logs/<function>.log: the emulator's own lines, "REPORT RequestId: …\tDuration:
// 12.34 ms\t…" lines, the function's JSON lines) and sums its REPORT lines and its
// "fleet budget" lines; every other line is skipped. A REPORT or "fleet budget" line
// that does not read is an error naming its line number.
func ParseFunctionLog(r io.Reader) (FunctionLog, error) {
	var fl FunctionLog
	due := map[int64]int{} // re-sent exercises per second they are due back
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLogLine)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		switch {
		case bytes.HasPrefix(line, []byte("REPORT RequestId:")):
			d, err := reportDuration(string(line))
			if err != nil {
				return fl, fmt.Errorf("function log line %d: %w", n, err)
			}
			fl.Invocations++
			fl.Billed += d
		case bytes.HasPrefix(line, []byte("{")):
			if err := fl.jsonLine(line, due); err != nil {
				return fl, fmt.Errorf("function log line %d: %w", n, err)
			}
		}
	}
	for _, c := range due {
		fl.ResentHerd = max(fl.ResentHerd, c)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fl, fmt.Errorf("function log: a line longer than %d bytes: not a function log", maxLogLine)
		}
		return fl, fmt.Errorf("function log: %w", err)
	}
	return fl, nil
}

// reportDuration reads the Duration field of a REPORT line (tab-separated fields;
// "Init Duration" and "Billed Duration" are other fields).
func reportDuration(line string) (time.Duration, error) {
	for _, f := range strings.Split(line, "\t") {
		v, ok := strings.CutPrefix(strings.TrimSpace(f), "Duration:")
		if !ok {
			continue
		}
		num, ok := strings.CutSuffix(strings.TrimSpace(v), " ms")
		if !ok {
			return 0, fmt.Errorf("REPORT Duration %q is not in milliseconds (want \"Duration: 12.34 ms\")", strings.TrimSpace(v))
		}
		msv, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		// An invocation lasts at most 15 minutes; a day bounds the conversion.
		if err != nil || math.IsNaN(msv) || msv < 0 || msv > 24*3600*1000 {
			return 0, fmt.Errorf("REPORT Duration %q is not a duration in milliseconds", strings.TrimSpace(v))
		}
		return time.Duration(msv * float64(time.Millisecond)), nil
	}
	return 0, errors.New("REPORT line without a Duration field")
}

// jsonLine reads one of the function's JSON lines; lines of other messages, and
// lines that are not one JSON object, are skipped.
func (fl *FunctionLog) jsonLine(line []byte, due map[int64]int) error {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil // not a line the function's logger wrote whole
	}
	var msg string
	if err := json.Unmarshal(rec["msg"], &msg); err != nil {
		return nil
	}
	switch msg {
	case msgBudget:
		b, err := budgetLine(rec)
		if err != nil {
			return err
		}
		fl.BudgetLines++
		fl.Budget.Requests += b.Requests
		fl.Budget.Calls += b.Calls
		fl.Budget.Deferred += b.Deferred
		fl.Budget.Unbooked += b.Unbooked
		fl.Budget.Conflicts += b.Conflicts
		fl.Budget.PastHorizon += b.PastHorizon
		fl.Budget.Waited += b.Waited
	case msgDeferred:
		var delay int64 // slog's JSON duration: nanoseconds
		if err := json.Unmarshal(rec["delay"], &delay); err != nil || delay < 0 || delay > int64(24*time.Hour) {
			return fmt.Errorf("%q line: delay %s is not a duration in nanoseconds", msgDeferred, rec["delay"])
		}
		var at time.Time
		if err := json.Unmarshal(rec["time"], &at); err != nil {
			return fmt.Errorf("%q line: time %s is not an RFC 3339 time", msgDeferred, rec["time"])
		}
		fl.Resent++
		fl.ResentDelay += time.Duration(delay)
		due[at.Add(time.Duration(delay)).Unix()]++
	case msgFailed:
		fl.Failed++
	}
	return nil
}

// budgetLine reads the attributes of a "fleet budget" line.
func budgetLine(rec map[string]json.RawMessage) (BudgetTotals, error) {
	var b BudgetTotals
	var waited int
	for _, f := range []struct {
		name string
		to   *int
	}{{"budget_requests", &b.Requests}, {"budget_calls", &b.Calls}, {"budget_deferred", &b.Deferred},
		{"budget_unbooked", &b.Unbooked}, {"budget_conflicts", &b.Conflicts}, {"budget_past_horizon", &b.PastHorizon}, {"budget_waited_ms", &waited}} {
		raw, ok := rec[f.name]
		if !ok && f.name == "budget_past_horizon" {
			continue // added later: older logs lack it
		}
		if !ok {
			return b, fmt.Errorf("fleet budget line without %s", f.name)
		}
		if err := json.Unmarshal(raw, f.to); err != nil || *f.to < 0 || *f.to > 1<<30 {
			return b, fmt.Errorf("fleet budget line: %s %s is not a count", f.name, raw)
		}
	}
	b.Waited = time.Duration(waited) * time.Millisecond
	return b, nil
}
