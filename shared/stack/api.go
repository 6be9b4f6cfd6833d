package stack

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/stack/emulator"
)

// API Gateway HTTP API limits (docs: "Amazon API Gateway quotas").
const (
	// MaxRequestBody is an HTTP API's payload limit.
	MaxRequestBody = 10 << 20
	// IntegrationTimeout is an HTTP API's maximum integration timeout.
	IntegrationTimeout = 30 * time.Second
	// maxSignatureSkew is how far a signature's date may be from now.
	maxSignatureSkew = 15 * time.Minute
)

// route is one HTTP API route: "METHOD /path/{param}" to a Lambda proxy integration.
type route struct {
	key       string
	method    string
	segments  []string
	function  string // the integration's function ARN
	iamAuth   bool
	timeout   time.Duration
	isDefault bool
}

// APIFront serves an HTTP API's routes as API Gateway does: AWS_IAM routes need
// a valid SigV4 signature (service execute-api) by a known access key, the
// function gets a payload format 2.0 event and its 2.0 response becomes the
// HTTP response; request bodies over 10 MB get 413, integrations over 30 s get 503.
type APIFront struct {
	APIID   string
	Invoker FunctionInvoker
	// Secret returns the secret access key of an access key id, false when unknown.
	Secret func(accessKeyID string) (string, bool)
	Now    func() time.Time
	Logger *slog.Logger
	routes []route
}

// NewAPIFront reads the API's routes and integrations from the emulator.
func NewAPIFront(ctx context.Context, api *awsAPI, apiID string, log *slog.Logger) (*APIFront, error) {
	routes, integrations, err := api.httpAPI(ctx, apiID)
	if err != nil {
		return nil, err
	}
	f := &APIFront{APIID: apiID, Invoker: api, Logger: log, Now: time.Now,
		Secret: func(id string) (string, bool) {
			if id == api.creds.AccessKeyID {
				return api.creds.SecretAccessKey, true
			}
			return "", false
		}}
	byID := map[string]apiIntegration{}
	for _, in := range integrations {
		byID[in.IntegrationID] = in
	}
	for _, r := range routes {
		in, ok := byID[strings.TrimPrefix(r.Target, "integrations/")]
		if !ok {
			return nil, fmt.Errorf("stack: API %s route %q: no integration %q", apiID, r.RouteKey, r.Target)
		}
		fn, err := integrationFunction(in.IntegrationURI)
		if err != nil {
			return nil, fmt.Errorf("stack: API %s route %q: %w", apiID, r.RouteKey, err)
		}
		if in.PayloadFormatVersion != "" && in.PayloadFormatVersion != "2.0" {
			return nil, fmt.Errorf("stack: API %s route %q: payload format %s is not emulated (2.0 only)", apiID, r.RouteKey, in.PayloadFormatVersion)
		}
		if err := f.AddRoute(r.RouteKey, fn, r.AuthorizationType == "AWS_IAM"); err != nil {
			return nil, err
		}
		log.Info("api route", slog.String("route", r.RouteKey), slog.String("function", fn), slog.String("authorization", r.AuthorizationType))
	}
	return f, nil
}

// AddRoute adds "METHOD /path" (or "$default") served by function.
func (f *APIFront) AddRoute(key, function string, iamAuth bool) error {
	r := route{key: key, function: function, iamAuth: iamAuth, timeout: IntegrationTimeout}
	if key == "$default" {
		r.isDefault = true
	} else {
		method, path, ok := strings.Cut(key, " ")
		if !ok || !strings.HasPrefix(path, "/") {
			return fmt.Errorf("stack: route key %q: want \"METHOD /path\"", key)
		}
		r.method, r.segments = method, strings.Split(strings.Trim(path, "/"), "/")
	}
	f.routes = append(f.routes, r)
	return nil
}

// integrationFunction extracts the function ARN of a Lambda proxy integration URI
// (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations),
// or accepts a function ARN as is.
func integrationFunction(uri string) (string, error) {
	if strings.HasPrefix(uri, "arn:aws:lambda:") {
		return uri, nil
	}
	_, rest, ok := strings.Cut(uri, "/functions/")
	if !ok || !strings.HasSuffix(rest, "/invocations") {
		return "", fmt.Errorf("integration %q is not a Lambda proxy integration", uri)
	}
	return strings.TrimSuffix(rest, "/invocations"), nil
}

func (f *APIFront) match(method, path string) (*route, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var fallback *route
	for i := range f.routes {
		r := &f.routes[i]
		if r.isDefault {
			fallback = r
			continue
		}
		if r.method != method && r.method != "ANY" || len(r.segments) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, s := range r.segments {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				v, err := url.PathUnescape(segs[j])
				if err != nil || segs[j] == "" {
					ok = false
					break
				}
				params[strings.Trim(s, "{}")] = v
				continue
			}
			if s != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return r, params
		}
	}
	return fallback, nil
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Apigw-Requestid", requestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// ServeHTTP serves one request.
func (f *APIFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > MaxRequestBody {
		apiError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxRequestBody {
		apiError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	rt, params := f.match(r.Method, r.URL.Path)
	if rt == nil {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	var caller *callerIdentity
	if rt.iamAuth {
		c, status, msg := f.authorize(r, body)
		if status != 0 {
			apiError(w, status, msg)
			return
		}
		caller = c
	}
	event := f.event(r, body, rt, params, caller)
	payload, _ := json.Marshal(event)
	ctx, cancel := context.WithTimeout(r.Context(), rt.timeout)
	defer cancel()
	out, fnErr, err := f.Invoker.invoke(ctx, rt.function, payload)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		apiError(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	case err != nil || fnErr != "":
		f.Logger.Warn("api: integration failed", slog.String("route", rt.key), slog.String("function_error", fnErr),
			slog.String("payload", truncate(string(out), 500)), slog.Any("error", err))
		apiError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeProxyResponse(w, out)
}

// writeProxyResponse turns a payload format 2.0 response into the HTTP response:
// an object with statusCode is taken field by field; anything else is the body
// of a 200 application/json answer.
func writeProxyResponse(w http.ResponseWriter, out []byte) {
	var resp struct {
		StatusCode      *int              `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Cookies         []string          `json:"cookies"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	w.Header().Set("Apigw-Requestid", requestID())
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == nil {
		if !json.Valid(out) {
			apiError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	var b []byte
	if resp.Body != nil {
		b = []byte(*resp.Body)
		if resp.IsBase64Encoded {
			d, err := base64.StdEncoding.DecodeString(*resp.Body)
			if err != nil {
				apiError(w, http.StatusInternalServerError, "Internal Server Error")
				return
			}
			b = d
		}
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(*resp.StatusCode)
	_, _ = w.Write(b)
}

type callerIdentity struct {
	accessKey string
}

// authorize checks the request's SigV4 signature (AWS_IAM authorisation); it
// returns a non-zero status and API Gateway's message when the request is refused.
func (f *APIFront) authorize(r *http.Request, body []byte) (*callerIdentity, int, string) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, http.StatusForbidden, "Forbidden"
	}
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return nil, http.StatusForbidden, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' (AWS4-HMAC-SHA256)"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	cred, signed, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	scope := strings.Split(cred, "/")
	if cred == "" || signed == "" || sig == "" || len(scope) != 5 || scope[4] != "aws4_request" {
		return nil, http.StatusForbidden, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'"
	}
	if scope[2] != emulator.Region || scope[3] != "execute-api" {
		return nil, http.StatusForbidden, fmt.Sprintf("Credential should be scoped to a valid region and service execute-api, not '%s/%s'", scope[2], scope[3])
	}
	secret, ok := f.Secret(scope[0])
	if !ok {
		return nil, http.StatusForbidden, "The security token included in the request is invalid."
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, scope[1]) {
		return nil, http.StatusForbidden, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"
	}
	if d := f.Now().Sub(t); d > maxSignatureSkew || d < -maxSignatureSkew {
		return nil, http.StatusForbidden, "Signature expired"
	}
	want := signature(r, body, signed, amzDate, strings.Join(scope[1:], "/"), secret, scope[1], scope[2], scope[3])
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return nil, http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
	}
	return &callerIdentity{accessKey: scope[0]}, 0, ""
}

// signature computes the SigV4 signature of r as a client signs it for a
// non-S3 service (the path's segments URI-encoded once more).
func signature(r *http.Request, body []byte, signedHeaders, amzDate, scope, secret, date, region, service string) string {
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalURI(r.URL) + "\n")
	canon.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range strings.Split(signedHeaders, ";") {
		var v string
		switch {
		case h == "host":
			v = r.Host
		case h == "content-length" && r.Header.Get("Content-Length") == "" && r.ContentLength >= 0:
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(h)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		canon.WriteString(h + ":" + v + "\n")
	}
	canon.WriteString("\n" + signedHeaders + "\n")
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	canon.WriteString(payloadHash)
	sum := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func canonicalURI(u *url.URL) string {
	path := u.EscapedPath()
	if path == "" {
		return "/"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = awsEscape(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, awsEscape(k)+"="+awsEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// awsEscape is SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XX.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// event builds the payload format 2.0 event of a request.
func (f *APIFront) event(r *http.Request, body []byte, rt *route, params map[string]string, caller *callerIdentity) map[string]any {
	now := f.Now()
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					cookies = append(cookies, strings.TrimSpace(c))
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	query := map[string]string{}
	for k, vs := range r.URL.Query() {
		query[k] = strings.Join(vs, ",")
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	routeKey := rt.key
	reqCtx := map[string]any{
		"accountId":    emulator.AccountID,
		"apiId":        f.APIID,
		"domainName":   r.Host,
		"domainPrefix": strings.Split(r.Host, ".")[0],
		"http": map[string]any{
			"method": r.Method, "path": r.URL.Path, "protocol": r.Proto, "sourceIp": ip, "userAgent": r.UserAgent(),
		},
		"requestId": requestID(),
		"routeKey":  routeKey,
		"stage":     "$default",
		"time":      now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		"timeEpoch": now.UnixMilli(),
	}
	if caller != nil {
		reqCtx["authorizer"] = map[string]any{"iam": map[string]any{
			"accessKey": caller.accessKey, "accountId": emulator.AccountID,
			"callerId": caller.accessKey, "userArn": "arn:aws:iam::" + emulator.AccountID + ":user/examina-stack-admin",
			"userId": caller.accessKey,
		}}
	}
	ev := map[string]any{
		"version":        "2.0",
		"routeKey":       routeKey,
		"rawPath":        r.URL.EscapedPath(),
		"rawQueryString": r.URL.RawQuery,
		"headers":        headers,
		"requestContext": reqCtx,
	}
	if len(cookies) > 0 {
		ev["cookies"] = cookies
	}
	if len(query) > 0 {
		ev["queryStringParameters"] = query
	}
	if len(params) > 0 {
		ev["pathParameters"] = params
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev["body"] = string(body)
			ev["isBase64Encoded"] = false
		} else {
			ev["body"] = base64.StdEncoding.EncodeToString(body)
			ev["isBase64Encoded"] = true
		}
	} else {
		ev["isBase64Encoded"] = false
	}
	return ev
}

// isText reports whether API Gateway passes a body of this content type as
// text (otherwise it is base64-encoded).
func isText(ct string) bool {
	ct = strings.ToLower(ct)
	return ct == "" || strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "xml") ||
		strings.Contains(ct, "javascript") || strings.HasPrefix(ct, "application/x-www-form-urlencoded")
}

func requestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
