package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	reportLine    = "REPORT RequestId: 6f1c\tInit Duration: 12.50 ms\tDuration: 1250.25 ms\tBilled Duration: 1251 ms\tMemory Size: 256 MB\tMax Memory Used: 256 MB\t"
	reportLineMI  = "REPORT RequestId: 7a2d\tDuration: 125.46 ms"
	budgetLineOK  = `{"time":"2026-12-01T13:00:00Z","level":"INFO","msg":"fleet budget","job_id":"L201-ab","position":3,"budget_requests":2,"budget_calls":1,"budget_deferred":1,"budget_unbooked":0,"budget_conflicts":1,"budget_past_horizon":1,"budget_waited_ms":1500}`
	budgetLineTwo = `{"level":"INFO","msg":"fleet budget","budget_requests":3,"budget_calls":1,"budget_deferred":0,"budget_unbooked":1,"budget_conflicts":0,"budget_waited_ms":0}`
	deferredAt    = `{"time":"2026-12-01T13:14:51.081915517Z","level":"INFO","msg":"exercise deferred to its rate-limit slot","job_id":"l200-22f5","position":47,"delay":%d,"deferrals":1,"reason":"retry wait: rate_limited"}`
	failedLine    = `{"time":"2026-12-01T13:14:52Z","level":"WARN","msg":"analysis failed: message will be redelivered","job_id":"l200-22f5","position":7,"receive":1,"error":"server_error"}`
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
			want: FunctionLog{BudgetLines: 2, Budget: BudgetTotals{Requests: 5, Calls: 2, Deferred: 1, Unbooked: 1, Conflicts: 1, PastHorizon: 1,
				Waited: 1500 * time.Millisecond}}},
		{name: "everything interleaved",
			log:  "START RequestId: 6f1c\n" + budgetLineTwo + "\nEND RequestId: 6f1c\n" + reportLineMI + "\n",
			want: FunctionLog{Invocations: 1, Billed: 125460 * time.Microsecond, BudgetLines: 1, Budget: BudgetTotals{Requests: 3, Calls: 1, Unbooked: 1}}},
		{name: "re-sent exercises and failures counted, herds by the second they are due",
			log: fmt.Sprintf(deferredAt, 55*time.Second) + "\n" + fmt.Sprintf(deferredAt, 55*time.Second+100*time.Millisecond) + "\n" +
				fmt.Sprintf(deferredAt, 3*time.Second) + "\n" + failedLine + "\n" + failedLine,
			want: FunctionLog{Resent: 3, ResentDelay: 113*time.Second + 100*time.Millisecond, ResentHerd: 2, Failed: 2}},
		{name: "re-sent exercise with a delay in seconds", log: strings.Replace(fmt.Sprintf(deferredAt, 0), `"delay":0`, `"delay":"55s"`, 1),
			wantErr: `line 1: "exercise deferred to its rate-limit slot" line: delay "55s" is not a duration in nanoseconds`},
		{name: "re-sent exercise without its time", log: strings.Replace(fmt.Sprintf(deferredAt, 0), `"time":"2026-12-01T13:14:51.081915517Z",`, "", 1),
			wantErr: "time  is not an RFC 3339 time"},
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
		"START RequestId: 1\nEND RequestId: 1\n", fmt.Sprintf(deferredAt, 55*time.Second), failedLine, "REPORT RequestId: 9\tDuration: 1e3 ms", `{"msg":"fleet budget"}`} {
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
		if got.Invocations == 0 && got.Billed != 0 || got.BudgetLines == 0 && b != (BudgetTotals{}) || got.Resent < got.ResentHerd ||
			got.Resent == 0 && got.ResentDelay != 0 {
			t.Fatalf("sums without lines %+v", got)
		}
		twice, err := ParseFunctionLog(strings.NewReader(log + "\n" + log))
		if err != nil {
			t.Fatalf("the log parsed alone but not twice: %v", err)
		}
		b2 := twice.Budget
		if twice.Invocations != 2*got.Invocations || twice.Billed != 2*got.Billed || twice.BudgetLines != 2*got.BudgetLines ||
			b2.Requests != 2*b.Requests || b2.Calls != 2*b.Calls || b2.Deferred != 2*b.Deferred || b2.Unbooked != 2*b.Unbooked ||
			b2.Conflicts != 2*b.Conflicts || b2.Waited != 2*b.Waited || twice.Resent != 2*got.Resent || twice.ResentDelay != 2*got.ResentDelay ||
			twice.ResentHerd != 2*got.ResentHerd || twice.Failed != 2*got.Failed {
			t.Fatalf("twice the log: %+v, want twice %+v", twice, got)
		}
	})
}
