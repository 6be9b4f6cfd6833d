package cloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
)

// paidProvider is the offline analyzer under a paid provider's name, reporting a
// fixed usage per call.
type paidProvider struct{ *offline.Provider }

func (paidProvider) Name() string  { return "paid" }
func (paidProvider) Model() string { return "paid-1" }

func (p paidProvider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	resp, err := p.Provider.Complete(ctx, req)
	resp.InputTokens, resp.OutputTokens, resp.Heuristic = 2000, 500, false
	return resp, err
}

func paidPricing(t *testing.T) cloud.Pricing {
	t.Helper()
	tab, err := cost.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	// $100 per million tokens: a call costs $0.25, its worst case about $0.7.
	err = tab.Merge(strings.NewReader(`{"providers":{"paid":{"source":"https://paid.example/pricing",
		"models":{"paid-1":{"input_per_mtok":100,"output_per_mtok":100,"checked":"2026-12-01"}}}}}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	return cloud.Pricing{Table: tab}
}

// The analyze function stops starting calls for a job whose spend reached its cap;
// the capped exercises are recorded (the job completes), the cost is in the job's GET
// and in the result document, retries included.
func TestAnalyzeCostCap(t *testing.T) {
	s := newStack(t)
	const id = "ade-00000000c0a1"
	c := examina.Course{Code: "ADE", Name: "Architettura", Language: "it"}
	exs := make([]examina.Exercise, 6)
	for i := range exs {
		exs[i] = examina.Exercise{ID: fmt.Sprintf("e%d", i), Number: fmt.Sprint(i + 1), Position: i,
			Text: fmt.Sprintf("Esercizio %d: progettare un automa di Moore che riconosce la sequenza %b.", i, i+5)}
	}
	job := examina.Job{ID: id, Course: c, Provider: "paid", Model: "paid-1", Status: examina.JobPending, Total: len(exs), MaxCostUSD: 1.5}
	if _, err := s.store.CreateJob(s.ctx, job, exs); err != nil {
		t.Fatal(err)
	}
	started, err := s.store.StartFanOut(s.ctx, id, "tok-c0a1")
	if err != nil || started.MaxCostUSD != 1.5 {
		t.Fatalf("fan-out job: %+v, %v", started, err)
	}
	bodies, err := cloud.Tasks(started, exs)
	if err != nil {
		t.Fatal(err)
	}
	if task, _ := cloud.ParseTask(bodies[0]); task.MaxCostUSD != 1.5 {
		t.Fatalf("the message does not carry the job's cap: %+v", task)
	}
	h := s.analyzeHandler(paidProvider{offline.New()}, &countingSignaler{})
	h.Spend, h.Pricing = s.store, paidPricing(t)
	var msgs []events.SQSMessage
	for i, b := range bodies {
		msgs = append(msgs, msg(fmt.Sprintf("m%d", i), b, 1))
	}
	resp, err := h.Handle(s.ctx, batch(msgs...))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v, err %v: a capped exercise must not be redelivered", failures(resp), err)
	}
	got, err := s.store.GetJob(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sp := got.Spend
	// Sequential calls of $0.25 each with a worst case of about $0.66 under $1.50: the
	// fifth reservation ($1.00 spent + $0.66) would pass the cap.
	if sp == nil || sp.Calls != 4 || sp.Refused != 2 || sp.InputTokens != 8000 || sp.OutputTokens != 2000 ||
		sp.CommittedNanos > cost.USDToNanos(1.5) || got.Done != 6 {
		t.Fatalf("job = done %d, spend %+v", got.Done, sp)
	}
	results, err := s.store.Results(s.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	capped := 0
	for _, r := range results {
		if r.Analysis.Status == examina.StatusDegraded {
			capped++
			if !strings.Contains(r.Analysis.Error, "cost cap of $1.5000 reached") {
				t.Errorf("capped exercise %d: error %q", r.Position, r.Analysis.Error)
			}
		}
	}
	if capped != 2 {
		t.Errorf("%d capped exercises, want 2", capped)
	}

	// GET while the job is not merged: the spend from the counters.
	d := s.dispatcher()
	d.Pricing = paidPricing(t)
	view := getView(t, d, id)
	if view.MaxCostUSD != 1.5 || view.Cost == nil || view.Cost.USD == nil || *view.Cost.USD != 1.0 || view.Cost.RefusedCalls != 2 || view.Cost.RetryUSD != nil {
		t.Fatalf("GET cost = %+v (cap %g)", view.Cost, view.MaxCostUSD)
	}

	// The result document's stats.cost, and the same in the GET once completed.
	m := &cloud.Merger{Store: s.store, Objects: s.bucket, Pricing: paidPricing(t)}
	out, err := m.Merge(s.ctx, cloud.MergeInput{JobID: id})
	if err != nil {
		t.Fatal(err)
	}
	var res examina.Result
	if err := s.bucket.GetJSON(s.ctx, out.ResultKey, &res); err != nil {
		t.Fatal(err)
	}
	rc := res.Stats.Cost
	if rc == nil || rc.USD == nil || *rc.USD != 1.0 || rc.Calls != 4 || rc.RetryUSD == nil || *rc.RetryUSD != 0 || rc.MaxUSD == nil ||
		rc.Price == nil || rc.Price.Source != "https://paid.example/pricing" || res.Stats.Degraded != 2 {
		t.Fatalf("result stats.cost = %+v, degraded %d", rc, res.Stats.Degraded)
	}
	if view := getView(t, d, id); view.Cost == nil || view.Cost.RetryUSD == nil {
		t.Errorf("GET of the completed job: cost %+v", view.Cost)
	}
}

func getView(t *testing.T, d *cloud.Dispatcher, id string) cloud.JobView {
	t.Helper()
	resp := d.HandleAPI(context.Background(), getRequest(id))
	var v cloud.JobView
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &v) != nil {
		t.Fatalf("GET = %d %s", resp.StatusCode, resp.Body)
	}
	return v
}

func TestEnvMaxCost(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "0": true, "2.5": true, "-1": false, "abc": false, "NaN": false} {
		e, err := cloud.LoadEnv(func(k string) string {
			if k == "EXAMINA_MAX_COST_USD" {
				return v
			}
			return ""
		})
		if (err == nil) != ok || (ok && v == "2.5" && e.MaxCostUSD != 2.5) {
			t.Errorf("EXAMINA_MAX_COST_USD=%q: %+v, %v", v, e.MaxCostUSD, err)
		}
	}
}
