package bench

import (
	"strings"
	"testing"
	"time"
)

const (
	reportLine    = "REPORT RequestId: 6f1c\tInit Duration: 12.50 ms\tDuration: 1250.25 ms\tBilled Duration: 1251 ms\tMemory Size: 256 MB\tMax Memory Used: 256 MB\t"
	reportLineMI  = "REPORT RequestId: 7a2d\tDuration: 125.46 ms"
	budgetLineOK  = `{"time":"2026-12-01T13:00:00Z","level":"INFO","msg":"fleet budget","job_id":"L201-ab","position":3,"budget_requests":2,"budget_calls":1,"budget_deferred":1,"budget_unbooked":0,"budget_conflicts":1,"budget_waited_ms":1500}`
	budgetLineTwo = `{"level":"INFO","msg":"fleet budget","budget_requests":3,"budget_calls":1,"budget_deferred":0,"budget_unbooked":1,"budget_conflicts":0,"budget_waited_ms":0}`
)

func TestParseFunctionLog(t *testing.T) {
	tests := []struct {
		name    string
		log     string
		want    FunctionLog
		wantErr string
	}{
		{name: "empty", log: ""},
		{name: "the emulator's and the function's other lines are skipped",
			log: "time=\"2026-12-01T13:00:00Z\" level=info msg=\"exec '/var/runtime/bootstrap'\"\nSTART RequestId: 6f1c Version: $LATEST\nEND RequestId: 6f1c\n" +
				`{"level":"INFO","msg":"analysed","job_id":"L201-ab","position":3}` + "\n" +
				`{"level":"ERROR","msg":"provider","error":"the \"fleet budget\" is not a message here"}` + "\n" +
				`{"msg":"fleet budget" truncated` + "\n" + `{"msg":7,"note":"fleet budget"}` + "\n"},
		{name: "REPORT lines, both emulator formats, CRLF",
			log:  reportLine + "\r\n" + reportLineMI + "\n",
			want: FunctionLog{Invocations: 2, Billed: 1250250*time.Microsecond + 125460*time.Microsecond}},
		{name: "fleet budget lines summed",
			log: budgetLineOK + "\n" + budgetLineTwo,
			want: FunctionLog{BudgetLines: 2, Budget: BudgetTotals{Requests: 5, Calls: 2, Deferred: 1, Unbooked: 1, Conflicts: 1,
				Waited: 1500 * time.Millisecond}}},
		{name: "everything interleaved",
			log:  "START RequestId: 6f1c\n" + budgetLineTwo + "\nEND RequestId: 6f1c\n" + reportLineMI + "\n",
			want: FunctionLog{Invocations: 1, Billed: 125460 * time.Microsecond, BudgetLines: 1, Budget: BudgetTotals{Requests: 3, Calls: 1, Unbooked: 1}}},
		{name: "REPORT without Duration", log: reportLineMI + "\nREPORT RequestId: 9\tBilled Duration: 3 ms\n", wantErr: "line 2: REPORT line without a Duration field"},
		{name: "REPORT Duration in seconds", log: "REPORT RequestId: 9\tDuration: 1.2 s\n", wantErr: "line 1: REPORT Duration \"1.2 s\" is not in milliseconds"},
		{name: "REPORT Duration negative", log: "REPORT RequestId: 9\tDuration: -3.00 ms\n", wantErr: "is not a duration in milliseconds"},
		{name: "REPORT Duration NaN", log: "REPORT RequestId: 9\tDuration: NaN ms\n", wantErr: "is not a duration in milliseconds"},
		{name: "fleet budget without a count", log: `{"msg":"fleet budget","budget_requests":2}`, wantErr: "line 1: fleet budget line without budget_calls"},
		{name: "fleet budget count not an integer",
			log:     strings.Replace(budgetLineTwo, `"budget_calls":1`, `"budget_calls":"one"`, 1),
			wantErr: `fleet budget line: budget_calls "one" is not a count`},
		{name: "fleet budget count negative", log: strings.Replace(budgetLineTwo, `"budget_requests":3`, `"budget_requests":-3`, 1), wantErr: "budget_requests -3 is not a count"},
		{name: "line too long", log: strings.Repeat("x", maxLogLine+1), wantErr: "a line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFunctionLog(strings.NewReader(tt.log))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseFunctionLog: any input parses or is refused without panicking; what parses
// is non-negative, and a log written twice parses to twice its sums (lines are read
// one by one, whatever surrounds them).
func FuzzParseFunctionLog(f *testing.F) {
	for _, s := range []string{"", reportLine, reportLineMI, budgetLineOK, budgetLineTwo + "\n" + reportLine + "\n",
		"START RequestId: 1\nEND RequestId: 1\n", "REPORT RequestId: 9\tDuration: 1e3 ms", `{"msg":"fleet budget"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, log string) {
		got, err := ParseFunctionLog(strings.NewReader(log))
		if err != nil {
			return
		}
		b := got.Budget
		if got.Invocations < 0 || got.Billed < 0 || got.BudgetLines < 0 || b.Requests < 0 || b.Calls < 0 || b.Deferred < 0 ||
			b.Unbooked < 0 || b.Conflicts < 0 || b.Waited < 0 {
			t.Fatalf("negative figure %+v", got)
		}
		if got.Invocations == 0 && got.Billed != 0 || got.BudgetLines == 0 && b != (BudgetTotals{}) {
			t.Fatalf("sums without lines %+v", got)
		}
		twice, err := ParseFunctionLog(strings.NewReader(log + "\n" + log))
		if err != nil {
			t.Fatalf("the log parsed alone but not twice: %v", err)
		}
		b2 := twice.Budget
		if twice.Invocations != 2*got.Invocations || twice.Billed != 2*got.Billed || twice.BudgetLines != 2*got.BudgetLines ||
			b2.Requests != 2*b.Requests || b2.Calls != 2*b.Calls || b2.Deferred != 2*b.Deferred || b2.Unbooked != 2*b.Unbooked ||
			b2.Conflicts != 2*b.Conflicts || b2.Waited != 2*b.Waited {
			t.Fatalf("twice the log: %+v, want twice %+v", twice, got)
		}
	})
}
