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
// Lambda runtime emulator's REPORT line of every invocation and the analyze
// function's "fleet budget" JSON lines (one per invocation with a budget), summed.
type FunctionLog struct {
	Invocations int           // REPORT lines
	Billed      time.Duration // the sum of their Duration values
	BudgetLines int           // "fleet budget" lines
	Budget      BudgetTotals  // their attributes, summed
}

// BudgetTotals are the sums of the "fleet budget" lines' attributes.
type BudgetTotals struct {
	Requests  int           // budget_requests: DynamoDB requests of the fleet budget
	Calls     int           // budget_calls: provider calls it admitted
	Deferred  int           // budget_deferred: calls deferred to a later slot
	Unbooked  int           // budget_unbooked: deferrals made without a booked slot
	Conflicts int           // budget_conflicts: conditional-write conflicts
	Waited    time.Duration // budget_waited_ms: time slept for slots
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
		case bytes.HasPrefix(line, []byte("{")) && bytes.Contains(line, []byte(`"fleet budget"`)):
			b, ok, err := budgetLine(line)
			if err != nil {
				return fl, fmt.Errorf("function log line %d: %w", n, err)
			}
			if ok {
				fl.BudgetLines++
				fl.Budget.Requests += b.Requests
				fl.Budget.Calls += b.Calls
				fl.Budget.Deferred += b.Deferred
				fl.Budget.Unbooked += b.Unbooked
				fl.Budget.Conflicts += b.Conflicts
				fl.Budget.Waited += b.Waited
			}
		}
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

// budgetLine reads a JSON log line; ok is false when it is not a "fleet budget" line.
func budgetLine(line []byte) (BudgetTotals, bool, error) {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(line, &rec); err != nil {
		// Not a JSON object written whole: not a line of the function's logger.
		return BudgetTotals{}, false, nil
	}
	var msg string
	if err := json.Unmarshal(rec["msg"], &msg); err != nil || msg != "fleet budget" {
		return BudgetTotals{}, false, nil
	}
	var b BudgetTotals
	var waited int
	for _, f := range []struct {
		name string
		to   *int
	}{{"budget_requests", &b.Requests}, {"budget_calls", &b.Calls}, {"budget_deferred", &b.Deferred},
		{"budget_unbooked", &b.Unbooked}, {"budget_conflicts", &b.Conflicts}, {"budget_waited_ms", &waited}} {
		raw, ok := rec[f.name]
		if !ok {
			return b, false, fmt.Errorf("fleet budget line without %s", f.name)
		}
		if err := json.Unmarshal(raw, f.to); err != nil || *f.to < 0 || *f.to > 1<<30 {
			return b, false, fmt.Errorf("fleet budget line: %s %s is not a count", f.name, raw)
		}
	}
	b.Waited = time.Duration(waited) * time.Millisecond
	return b, true, nil
}
