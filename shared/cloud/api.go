package cloud

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

func decodeAPIRequest(raw json.RawMessage) (events.APIGatewayV2HTTPRequest, error) {
	var req events.APIGatewayV2HTTPRequest
	err := json.Unmarshal(raw, &req)
	return req, err
}

// Routes of the HTTP API.
const (
	RoutePost = "POST /courses/{course}/analyses"
	RouteGet  = "GET /analyses/{job}"
	// RouteReport answers the job's course map as one HTML page (see report.go).
	RouteReport = "GET /analyses/{job}/report"
)

// ErrorBody is the JSON body of an API error.
type ErrorBody struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

// Accepted is the JSON body of a 202 answer to POST.
type Accepted struct {
	JobID  string            `json:"job_id"`
	Status examina.JobStatus `json:"status"`
	Links  map[string]string `json:"links"`
}

// JobView is the JSON body of a 200 answer to GET: the job's status and progress, and
// the whole result document once the job is completed.
type JobView struct {
	JobID     string            `json:"job_id"`
	Status    examina.JobStatus `json:"status"`
	Course    examina.Course    `json:"course"`
	Provider  string            `json:"provider,omitempty"`
	Model     string            `json:"model,omitempty"`
	Total     int               `json:"total"`
	Done      int               `json:"done"`
	Degraded  int               `json:"degraded"`
	Progress  float64           `json:"progress"`
	Reason    string            `json:"reason,omitempty"`
	Problems  []string          `json:"problems,omitempty"`
	Source    string            `json:"source,omitempty"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt string            `json:"updated_at"`
	Result    *examina.Result   `json:"result,omitempty"`
}

// HandleAPI answers the HTTP API: POST /courses/{course}/analyses (202 with the job id,
// 400 with the problems, 413 over the size limit) and GET /analyses/{job} (200, 400 for
// a malformed id, 404 for an unknown job). Failures of the backing services are 500
// (503 when transient); they are logged, never detailed to the client.
func (d *Dispatcher) HandleAPI(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	method := req.RequestContext.HTTP.Method
	route := req.RouteKey
	params := req.PathParameters
	if route == "" || route == "$default" {
		route, params = matchRoute(method, req.RawPath)
	}
	switch route {
	case RoutePost:
		if method != http.MethodPost {
			return jsonResponse(http.StatusMethodNotAllowed, ErrorBody{Error: "method not allowed"})
		}
		return d.post(ctx, req, params["course"])
	case RouteGet:
		if method != http.MethodGet {
			return jsonResponse(http.StatusMethodNotAllowed, ErrorBody{Error: "method not allowed"})
		}
		return d.get(ctx, params["job"])
	case RouteReport:
		if method != http.MethodGet {
			return jsonResponse(http.StatusMethodNotAllowed, ErrorBody{Error: "method not allowed"})
		}
		return d.report(ctx, params["job"])
	}
	return jsonResponse(http.StatusNotFound, ErrorBody{Error: "no such route"})
}

// matchRoute finds the route of a raw path: exactly /courses/{course}/analyses,
// /analyses/{job} or /analyses/{job}/report, optionally after one stage segment ("/prod/analyses/{job}").
// Anything else matches no route.
func matchRoute(method, path string) (string, map[string]string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) > 0 && parts[0] != "courses" && parts[0] != "analyses" {
		parts = parts[1:] // a stage prefix
	}
	switch {
	case len(parts) == 3 && parts[0] == "courses" && parts[1] != "" && parts[2] == "analyses":
		return RoutePost, map[string]string{"course": parts[1]}
	case len(parts) == 2 && parts[0] == "analyses" && parts[1] != "":
		return RouteGet, map[string]string{"job": parts[1]}
	case len(parts) == 3 && parts[0] == "analyses" && parts[1] != "" && parts[2] == "report":
		return RouteReport, map[string]string{"job": parts[1]}
	}
	return "", nil
}

func header(req events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func (d *Dispatcher) post(ctx context.Context, req events.APIGatewayV2HTTPRequest, code string) events.APIGatewayV2HTTPResponse {
	log := discard(d.Logger)
	limits := d.limits()
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return jsonResponse(http.StatusBadRequest, ErrorBody{Error: "body is not valid base64"})
		}
	}
	if int64(len(body)) > limits.MaxFileBytes {
		return jsonResponse(http.StatusRequestEntityTooLarge, ErrorBody{Error: "course file too large",
			Problems: []string{"the body is " + itoa(len(body)) + " bytes, over the limit of " + itoa(int(limits.MaxFileBytes)) + " bytes"}})
	}
	if strings.TrimSpace(code) == "" {
		return jsonResponse(http.StatusBadRequest, ErrorBody{Error: "missing course code in the path"})
	}
	opts := course.Options{Limits: limits, Format: course.JSON}
	ct := strings.ToLower(header(req, "content-type"))
	if strings.Contains(ct, "ndjson") || strings.Contains(ct, "jsonl") || strings.Contains(ct, "json-seq") {
		name := req.QueryStringParameters["name"]
		if name == "" {
			name = code
		}
		opts.Format = course.JSONL
		opts.Course = examina.Course{Code: code, Name: name, Language: req.QueryStringParameters["language"]}
	}
	cf, err := course.Parse(body, "request body", opts)
	var pe *course.ProblemsError
	switch {
	case errors.As(err, &pe):
		return jsonResponse(http.StatusBadRequest, ErrorBody{Error: "invalid course file", Problems: pe.Strings()})
	case err != nil:
		return jsonResponse(http.StatusBadRequest, ErrorBody{Error: "invalid course file"})
	case !strings.EqualFold(cf.Course.Code, code):
		return jsonResponse(http.StatusBadRequest, ErrorBody{Error: "invalid course file",
			Problems: []string{"course.code: the file's course " + cf.Course.Code + " is not the course " + code + " of the path"}})
	}
	idem := header(req, "idempotency-key")
	if idem == "" {
		idem = "request:" + req.RequestContext.RequestID
	} else {
		idem = "key:" + idem
	}
	id := JobID(cf.Course.Code, string(body), idem)
	log = log.With(slog.String("job_id", id))
	job := d.newJob(id, cf.Course, "api")
	job.Total = len(cf.Exercises)
	created, err := d.Store.CreateJob(ctx, job, cf.Exercises)
	if err != nil {
		return d.serverError(ctx, log, "recording job", err)
	}
	status := examina.JobPending
	if !created {
		existing, err := d.Store.GetJob(ctx, id)
		if err != nil {
			return d.serverError(ctx, log, "reading job", err)
		}
		status = existing.Status
	}
	if err := d.startExecution(ctx, id, cf.Course.Code); err != nil {
		return d.serverError(ctx, log, "starting execution", err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "job accepted", slog.Int("exercises", job.Total), slog.Bool("duplicate", !created))
	resp := jsonResponse(http.StatusAccepted, Accepted{JobID: id, Status: status, Links: map[string]string{"self": "/analyses/" + id}})
	resp.Headers["Location"] = "/analyses/" + id
	return resp
}

func (d *Dispatcher) get(ctx context.Context, id string) events.APIGatewayV2HTTPResponse {
	if !ValidJobID(id) {
		return jsonResponse(http.StatusBadRequest, ErrorBody{Error: "malformed job id"})
	}
	log := discard(d.Logger).With(slog.String("job_id", id))
	job, err := d.Store.GetJob(ctx, id)
	if examina.IsNotFound(err) {
		return jsonResponse(http.StatusNotFound, ErrorBody{Error: "no such job"})
	}
	if err != nil {
		return d.serverError(ctx, log, "reading job", err)
	}
	v := JobView{JobID: job.ID, Status: job.Status, Course: job.Course, Provider: job.Provider, Model: job.Model,
		Total: job.Total, Done: job.Done, Degraded: job.Degraded, Reason: job.Reason, Problems: job.Problems,
		Source: job.Source, CreatedAt: job.CreatedAt.Format("2006-01-02T15:04:05.000Z07:00"),
		UpdatedAt: job.UpdatedAt.Format("2006-01-02T15:04:05.000Z07:00")}
	if job.Total > 0 {
		v.Progress = float64(min(job.Done, job.Total)) / float64(job.Total)
	}
	if job.Status == examina.JobCompleted {
		key, err := d.Store.ResultKey(ctx, id)
		if err != nil {
			return d.serverError(ctx, log, "reading result key", err)
		}
		var res examina.Result
		if err := d.Objects.GetJSON(ctx, key, &res); err != nil {
			return d.serverError(ctx, log, "reading result document", err)
		}
		v.Result = &res
	}
	return jsonResponse(http.StatusOK, v)
}

func (d *Dispatcher) serverError(ctx context.Context, log *slog.Logger, what string, err error) events.APIGatewayV2HTTPResponse {
	log.LogAttrs(ctx, slog.LevelError, what+" failed", slog.String("error", err.Error()))
	if examina.KindOf(err) == examina.KindTransient {
		return jsonResponse(http.StatusServiceUnavailable, ErrorBody{Error: "temporarily unavailable, try again"})
	}
	return jsonResponse(http.StatusInternalServerError, ErrorBody{Error: "internal error"})
}

func jsonResponse(status int, v any) events.APIGatewayV2HTTPResponse {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":"internal error"}`)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: buf.String(),
		Headers: map[string]string{"Content-Type": "application/json"}}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
