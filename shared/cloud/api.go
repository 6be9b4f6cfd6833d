package cloud

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	RoutePost   = "POST /courses/{course}/analyses"
	RouteGet    = "GET /analyses/{job}"
	RouteUpload = "POST /courses/{course}/uploads"
	// RouteReport answers the job's course map as one HTML page (see report.go).
	RouteReport = "GET /analyses/{job}/report"
)

// MaxAPIBodyBytes bounds POST's body as the invocation payload carries it: the body
// JSON-escaped inside the event (quotes and backslashes doubled, control characters
// spelled \u00XX), or base64-encoded. The HTTP API accepts 10 MB, but a synchronous
// Lambda invocation takes at most 6 MB (InvokeResponseLimit) of event: a body whose
// event is larger never reaches the function and the caller gets the gateway's 500.
// At 5 MiB the function still receives bodies up to the invoke limit, with room for
// the event's headers and request context, and answers them 413, pointing at
// RouteUpload. Course files up to the course file limit go through RouteUpload.
const MaxAPIBodyBytes = 5 << 20

// DefaultUploadURLTTL is how long an upload URL of RouteUpload stays valid.
const DefaultUploadURLTTL = 15 * time.Minute

// UploadPrefix starts the file name of every upload key:
// {input prefix}{course}/{UploadPrefix}{token}.json|.jsonl.
const UploadPrefix = "upload-"

// Upload is the JSON body of a 201 answer to POST /courses/{course}/uploads: PUT the
// course file to URL with Headers before ExpiresAt; the S3 trigger then records the
// job JobID (GET /analyses/{job} answers 404 until the file is uploaded).
type Upload struct {
	JobID     string            `json:"job_id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Key       string            `json:"key"`
	ExpiresAt string            `json:"expires_at"`
	MaxBytes  int64             `json:"max_bytes"`
	Links     map[string]string `json:"links"`
}

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

// JobView is the JSON body of a 200 answer to GET: the job's status and progress and,
// once the job is completed, the whole result document while the answer stays within
// the inline limit (Dispatcher.MaxInlineBytes); past it, a presigned URL of the result
// document with its expiry, and the document's stats, topics and core loops.
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
	// ResultURL is a presigned S3 GET of the result document, set instead of Result
	// when the document is too large to answer inline; it stops working at
	// ResultExpiresAt (RFC 3339).
	ResultURL       string             `json:"result_url,omitempty"`
	ResultExpiresAt string             `json:"result_expires_at,omitempty"`
	ResultBytes     int                `json:"result_bytes,omitempty"`
	Stats           *examina.Stats     `json:"stats,omitempty"`
	Topics          []examina.Topic    `json:"topics,omitempty"`
	CoreLoops       []examina.CoreLoop `json:"core_loops,omitempty"`
	// MaxCostUSD is the job's cost cap (absent: none); Cost its spend so far, every
	// provider call counted (retries and failures included), from the job's counters
	// (once done, the result document's stats.cost, with the retry share).
	MaxCostUSD float64       `json:"max_cost_usd,omitempty"`
	Cost       *examina.Cost `json:"cost,omitempty"`
}

// InvokeResponseLimit is Lambda's limit on a synchronous invocation's response (and
// request) payload: 6 MB, counted in bytes of the JSON the function returns.
const InvokeResponseLimit = 6 << 20

// DefaultMaxInlineBytes bounds GET's encoded Lambda response when the result document
// is inlined: well inside InvokeResponseLimit, so the answer never fails for its size.
const DefaultMaxInlineBytes = 1 << 20

// DefaultResultURLTTL is how long a result_url stays valid.
const DefaultResultURLTTL = 15 * time.Minute

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
	case RouteUpload:
		if method != http.MethodPost {
			return jsonResponse(http.StatusMethodNotAllowed, ErrorBody{Error: "method not allowed"})
		}
		return d.upload(ctx, req, params["course"])
	case RouteReport:
		if method != http.MethodGet {
			return jsonResponse(http.StatusMethodNotAllowed, ErrorBody{Error: "method not allowed"})
		}
		return d.report(ctx, params["job"])
	}
	return jsonResponse(http.StatusNotFound, ErrorBody{Error: "no such route"})
}

// matchRoute finds the route of a raw path: exactly /courses/{course}/analyses,
// /courses/{course}/uploads, /analyses/{job} or /analyses/{job}/report, optionally after one
// stage segment ("/prod/analyses/{job}").
// Anything else matches no route.
func matchRoute(method, path string) (string, map[string]string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) > 0 && parts[0] != "courses" && parts[0] != "analyses" {
		parts = parts[1:] // a stage prefix
	}
	switch {
	case len(parts) == 3 && parts[0] == "courses" && parts[1] != "" && parts[2] == "analyses":
		return RoutePost, map[string]string{"course": parts[1]}
	case len(parts) == 3 && parts[0] == "courses" && parts[1] != "" && parts[2] == "uploads":
		return RouteUpload, map[string]string{"course": parts[1]}
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
	if n := transportedSize(req); n > MaxAPIBodyBytes {
		return jsonResponse(http.StatusRequestEntityTooLarge, ErrorBody{Error: "request body too large",
			Problems: []string{"the body takes " + itoa(n) + " bytes in the Lambda event (JSON-escaped or base64), over the API's limit of " +
				itoa(MaxAPIBodyBytes) + " bytes: ask POST /courses/" + code + "/uploads for an upload URL and PUT the file there (up to " +
				itoa(int(limits.MaxFileBytes)) + " bytes)"}})
	}
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
	if err := d.startExecution(ctx, id, cf.Course.Code, job.Total); err != nil {
		return d.serverError(ctx, log, "starting execution", err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "job accepted", slog.Int("exercises", job.Total), slog.Bool("duplicate", !created))
	resp := jsonResponse(http.StatusAccepted, Accepted{JobID: id, Status: status, Links: map[string]string{"self": "/analyses/" + id}})
	resp.Headers["Location"] = "/analyses/" + id
	return resp
}

// transportedSize is the size of the request's body inside the invocation event:
// base64 as given, or the body escaped as a JSON string.
func transportedSize(req events.APIGatewayV2HTTPRequest) int {
	if req.IsBase64Encoded {
		return len(req.Body)
	}
	n := 0
	for _, r := range req.Body {
		switch {
		case r == '"' || r == '\\':
			n += 2
		case r < 0x20:
			n += 6 // \u00XX (\n and \t take 2; counting 6 keeps the bound safe)
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}

// courseCodePattern is a course code usable in a storage key (the course parser's rule).
var courseCodePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// upload answers POST /courses/{course}/uploads: a presigned PUT of a new key under
// the input prefix, for course files too large for the API body. ?format=jsonl asks
// for a JSONL key (the course code is the path's; the name and language cannot be
// given). A retry with the same Idempotency-Key gets the same key and job id.
func (d *Dispatcher) upload(ctx context.Context, req events.APIGatewayV2HTTPRequest, code string) events.APIGatewayV2HTTPResponse {
	if !courseCodePattern.MatchString(code) {
		return jsonResponse(http.StatusBadRequest, ErrorBody{Error: "invalid course code in the path",
			Problems: []string{"course: use 1 to 32 letters A-Z, digits, '-' or '_'"}})
	}
	ext, ct := ".json", "application/json"
	switch f := strings.ToLower(req.QueryStringParameters["format"]); f {
	case "", "json":
	case "jsonl":
		ext, ct = ".jsonl", "application/x-ndjson"
	default:
		return jsonResponse(http.StatusBadRequest, ErrorBody{Error: "invalid format",
			Problems: []string{"format: " + strconv.Quote(f) + " is not json or jsonl"}})
	}
	if d.Links == nil {
		return d.serverError(ctx, discard(d.Logger), "presigning upload", errors.New("no presigner is configured"))
	}
	idem := header(req, "idempotency-key")
	if idem == "" {
		idem = "request:" + req.RequestContext.RequestID
	} else {
		idem = "key:" + idem
	}
	token := UploadToken(code, idem)
	key := d.inputPrefix() + code + "/" + UploadPrefix + token + ext
	id := UploadJobID(code, token)
	log := discard(d.Logger).With(slog.String("job_id", id))
	ttl := d.UploadURLTTL
	if ttl <= 0 {
		ttl = DefaultUploadURLTTL
	}
	u, expires, err := d.Links.PresignPut(ctx, key, ct, ttl)
	if err != nil {
		return d.serverError(ctx, log, "presigning upload", err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "upload URL issued", slog.String("key", key))
	return jsonResponse(http.StatusCreated, Upload{JobID: id, Method: http.MethodPut, URL: u, Headers: map[string]string{"Content-Type": ct},
		Key: key, ExpiresAt: expires.UTC().Format(time.RFC3339), MaxBytes: d.limits().MaxFileBytes,
		Links: map[string]string{"self": "/analyses/" + id}})
}

// UploadToken is the token naming an upload key: 16 hex digits of the course code and
// the request's idempotency identity.
func UploadToken(code, idem string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(code) + "\x00" + idem))
	return hex.EncodeToString(sum[:8])
}

// UploadJobID is the job id of the file uploaded under an upload key: one upload URL
// is one job, so a second PUT to the same URL is a duplicate of the first.
func UploadJobID(code, token string) string { return JobID(code, "upload", token) }

// lookupJob reads the job a GET route names. When it cannot, it returns the answer to
// give instead: 400 for a malformed id, 404 for an unknown job, 500 for a failure.
func (d *Dispatcher) lookupJob(ctx context.Context, id string) (examina.Job, *slog.Logger, *events.APIGatewayV2HTTPResponse) {
	if !ValidJobID(id) {
		resp := jsonResponse(http.StatusBadRequest, ErrorBody{Error: "malformed job id"})
		return examina.Job{}, nil, &resp
	}
	log := discard(d.Logger).With(slog.String("job_id", id))
	job, err := d.Store.GetJob(ctx, id)
	if examina.IsNotFound(err) {
		resp := jsonResponse(http.StatusNotFound, ErrorBody{Error: "no such job"})
		return examina.Job{}, log, &resp
	}
	if err != nil {
		resp := d.serverError(ctx, log, "reading job", err)
		return examina.Job{}, log, &resp
	}
	return job, log, nil
}

func (d *Dispatcher) get(ctx context.Context, id string) events.APIGatewayV2HTTPResponse {
	job, log, answer := d.lookupJob(ctx, id)
	if answer != nil {
		return *answer
	}
	v := JobView{JobID: job.ID, Status: job.Status, Course: job.Course, Provider: job.Provider, Model: job.Model,
		Total: job.Total, Done: job.Done, Degraded: job.Degraded, Reason: job.Reason, Problems: job.Problems,
		Source: job.Source, CreatedAt: job.CreatedAt.Format("2006-01-02T15:04:05.000Z07:00"),
		UpdatedAt: job.UpdatedAt.Format("2006-01-02T15:04:05.000Z07:00")}
	if job.Total > 0 {
		v.Progress = float64(min(job.Done, job.Total)) / float64(job.Total)
	}
	v.MaxCostUSD = job.MaxCostUSD
	v.Cost = JobCost(job, d.Pricing.Quote(job.Provider, job.Model), -1, -1)
	if job.Status != examina.JobCompleted {
		return jsonResponse(http.StatusOK, v)
	}
	key, err := d.Store.ResultKey(ctx, id)
	if err != nil {
		return d.serverError(ctx, log, "reading result key", err)
	}
	limit := d.maxInline()
	data, err := d.Objects.Get(ctx, key, int64(limit))
	if err != nil {
		return d.serverError(ctx, log, "reading result document", err)
	}
	var res examina.Result
	if err := json.Unmarshal(data, &res); len(data) <= limit && err == nil {
		inline := v
		inline.Result = &res
		if res.Stats.Cost != nil {
			inline.Cost = res.Stats.Cost
		}
		if resp := jsonResponse(http.StatusOK, inline); invokeSize(resp) <= limit {
			return resp
		}
	}
	return d.resultLink(ctx, log, v, key)
}

// resultLink answers GET of a completed job whose document is too large to inline: a
// presigned URL, and the document's stats, topics and core loops.
func (d *Dispatcher) resultLink(ctx context.Context, log *slog.Logger, v JobView, key string) events.APIGatewayV2HTTPResponse {
	if d.Links == nil {
		return d.serverError(ctx, log, "linking result document", errors.New("the result document is over the inline limit and no presigner is configured"))
	}
	data, err := d.Objects.Get(ctx, key, 0)
	if err != nil {
		return d.serverError(ctx, log, "reading result document", err)
	}
	var summary struct {
		Stats     examina.Stats      `json:"stats"`
		Topics    []examina.Topic    `json:"topics"`
		CoreLoops []examina.CoreLoop `json:"core_loops"`
	}
	if err := json.Unmarshal(data, &summary); err != nil {
		return d.serverError(ctx, log, "decoding result document", err)
	}
	ttl := d.ResultURLTTL
	if ttl <= 0 {
		ttl = DefaultResultURLTTL
	}
	u, expires, err := d.Links.PresignGet(ctx, key, ttl)
	if err != nil {
		return d.serverError(ctx, log, "presigning result document", err)
	}
	v.ResultURL, v.ResultExpiresAt, v.ResultBytes = u, expires.UTC().Format(time.RFC3339), len(data)
	v.Stats, v.Topics, v.CoreLoops = &summary.Stats, summary.Topics, summary.CoreLoops
	if summary.Stats.Cost != nil {
		v.Cost = summary.Stats.Cost
	}
	log.LogAttrs(ctx, slog.LevelInfo, "result answered by link", slog.Int("result_bytes", len(data)))
	return jsonResponse(http.StatusOK, v)
}

func (d *Dispatcher) maxInline() int {
	if d.MaxInlineBytes > 0 {
		return min(d.MaxInlineBytes, InvokeResponseLimit)
	}
	return DefaultMaxInlineBytes
}

// invokeSize is the size of resp as the Lambda runtime returns it: the JSON of the
// whole response object, the body escaped as a JSON string.
func invokeSize(resp events.APIGatewayV2HTTPResponse) int {
	b, err := json.Marshal(resp)
	if err != nil {
		return InvokeResponseLimit + 1
	}
	return len(b)
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
