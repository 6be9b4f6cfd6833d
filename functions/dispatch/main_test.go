package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
)

// setenv points the process at srv and st with environment variables only, as the
// Lambda runtime (or aws-lambda-rie) does.
func setenv(t *testing.T, srv *mototest.Server, st *mototest.Stack, extra ...string) {
	for _, kv := range append(append(srv.Env(), st.LambdaEnv()...), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func TestMainWiring(t *testing.T) {
	srv := mototest.Start(t)
	st, err := srv.Provision(t.Context(), mototest.ProvisionOptions{Definition: []byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	setenv(t, srv, st, "EXAMINA_PROVIDER=simulated", "LOG_LEVEL=ERROR")
	h, err := newHandler(t.Context(), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	post := events.APIGatewayV2HTTPRequest{RouteKey: "POST /courses/{course}/analyses", RawPath: "/courses/ADE/analyses",
		PathParameters: map[string]string{"course": "ADE"},
		Body:           `{"course": {"code": "ADE", "name": "A"}, "exercises": [{"text": "Convertire 42 in binario."}]}`}
	post.RequestContext.HTTP.Method = "POST"
	post.RequestContext.RequestID = "r1"
	raw, _ := json.Marshal(post)
	out, err := h(t.Context(), raw)
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if err != nil || !ok || resp.StatusCode != 202 {
		t.Fatalf("POST = %#v, %v", out, err)
	}
	var acc struct {
		JobID string `json:"job_id"`
	}
	_ = json.Unmarshal([]byte(resp.Body), &acc)
	get := events.APIGatewayV2HTTPRequest{RawPath: "/analyses/" + acc.JobID}
	get.RequestContext.HTTP.Method = "GET"
	raw, _ = json.Marshal(get)
	out, err = h(t.Context(), raw)
	if resp, ok := out.(events.APIGatewayV2HTTPResponse); err != nil || !ok || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"provider":"simulated"`) {
		t.Fatalf("GET = %#v, %v", out, err)
	}

	t.Setenv("TABLE_NAME", "")
	if _, err := newHandler(t.Context(), os.Getenv); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("missing TABLE_NAME: %v", err)
	}
}
