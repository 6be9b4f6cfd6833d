package stack

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
)

// Invocation is what the patched moto posts for every Lambda invocation (the
// launcher's S3 patch): the deployed function's configuration, read by moto from
// its own model, and the credentials of the function's role from STS.
type Invocation struct {
	FunctionName        string            `json:"FunctionName"`
	FunctionArn         string            `json:"FunctionArn"`
	InvocationType      string            `json:"InvocationType"` // RequestResponse, Event or DryRun
	Payload             string            `json:"Payload"`
	CodeSha256          string            `json:"CodeSha256"`
	CodePath            string            `json:"CodePath"` // the deployed zip, written by moto
	Handler             string            `json:"Handler"`
	Runtime             string            `json:"Runtime"`
	Environment         map[string]string `json:"-"`
	RawEnvironment      map[string]any    `json:"Environment"` // moto keeps a template's numbers as numbers
	Timeout             int               `json:"Timeout"`     // seconds
	MemorySize          int               `json:"MemorySize"`  // MB
	ReservedConcurrency *int              `json:"ReservedConcurrency"`
	Credentials         struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		SessionToken    string `json:"SessionToken"`
	} `json:"Credentials"`
}

// InvocationResult is the invoker's answer to moto: the function's response and,
// when it failed, the X-Amz-Function-Error value ("Unhandled").
type InvocationResult struct {
	Payload       string `json:"Payload"`
	FunctionError string `json:"FunctionError,omitempty"`
}

// Runner runs one invocation of a function; the RIE pool is the real one.
type Runner interface {
	Run(ctx context.Context, inv *Invocation) (payload []byte, err error)
}

// Invoker is the HTTP endpoint moto forwards Lambda invocations to. Synchronous
// invocations answer with the function's result; asynchronous ones (S3
// notifications) are accepted at once and run in the background, retried twice
// on error after AsyncRetryDelays, as Lambda does.
type Invoker struct {
	Runner Runner
	Logger *slog.Logger
	// AsyncRetryDelays are the waits before the retries of a failed asynchronous
	// invocation; Lambda's are about one and two minutes.
	AsyncRetryDelays []time.Duration
	// After is time.After, replaceable by a fake clock in tests.
	After func(time.Duration) <-chan time.Time

	wg sync.WaitGroup
}

// DefaultAsyncRetryDelays are Lambda's waits before the two retries of a failed
// asynchronous invocation.
var defaultAsyncRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}

// ServeHTTP handles one forwarded invocation.
func (v *Invoker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var inv Invocation
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&inv); err != nil {
		v.logger().Error("invoker: bad invocation document", slog.String("error", err.Error()))
		http.Error(w, "invoker: bad invocation document: "+err.Error(), http.StatusBadRequest)
		return
	}
	inv.Environment = make(map[string]string, len(inv.RawEnvironment))
	for k, val := range inv.RawEnvironment {
		switch x := val.(type) {
		case string:
			inv.Environment[k] = x
		case nil:
			inv.Environment[k] = ""
		default:
			b, _ := json.Marshal(x)
			inv.Environment[k] = string(b)
		}
	}
	if inv.InvocationType == "Event" {
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			v.runAsync(context.WithoutCancel(r.Context()), &inv)
		}()
		writeJSON(w, http.StatusOK, InvocationResult{})
		return
	}
	writeJSON(w, http.StatusOK, v.run(r.Context(), &inv))
}

// Wait blocks until the background (asynchronous) invocations have finished.
func (v *Invoker) Wait() { v.wg.Wait() }

func (v *Invoker) run(ctx context.Context, inv *Invocation) InvocationResult {
	payload, err := v.Runner.Run(ctx, inv)
	var fe *lambdarie.FunctionError
	switch {
	case err == nil:
		return InvocationResult{Payload: string(payload)}
	case errors.As(err, &fe):
		return InvocationResult{Payload: string(fe.Payload), FunctionError: "Unhandled"}
	default:
		doc, _ := json.Marshal(map[string]string{"errorType": "Runtime.ExitError", "errorMessage": err.Error()})
		return InvocationResult{Payload: string(doc), FunctionError: "Unhandled"}
	}
}

func (v *Invoker) runAsync(ctx context.Context, inv *Invocation) {
	delays := v.AsyncRetryDelays
	if delays == nil {
		delays = defaultAsyncRetryDelays
	}
	after := v.After
	if after == nil {
		after = time.After
	}
	for attempt := 0; ; attempt++ {
		res := v.run(ctx, inv)
		if res.FunctionError == "" {
			return
		}
		if attempt >= len(delays) {
			v.logger().Error("asynchronous invocation failed after its retries",
				slog.String("function", inv.FunctionName), slog.Int("attempts", attempt+1), slog.String("error", res.Payload))
			return
		}
		v.logger().Warn("asynchronous invocation failed; retrying",
			slog.String("function", inv.FunctionName), slog.Duration("after", delays[attempt]), slog.String("error", res.Payload))
		<-after(delays[attempt])
	}
}

func (v *Invoker) logger() *slog.Logger {
	if v.Logger == nil {
		return slog.Default()
	}
	return v.Logger
}

func writeJSON(w http.ResponseWriter, status int, doc any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(doc)
}

// Pool runs invocations in aws-lambda-rie processes: one invocation per process
// at a time, as a Lambda execution environment; idle processes are reused by the
// next invocation of the same function and configuration, new ones start when
// all are busy (a cold start). A process that fails (killed, timed out) is
// discarded.
type Pool struct {
	Dir      string // functions' unpacked code: Dir/code/<sha>/; logs: Dir/logs/<function>.log
	Endpoint string // the emulator's URL, the functions' AWS_ENDPOINT_URL
	Region   string
	Logger   *slog.Logger

	// launch serialises cold starts: aws-lambda-rie binds ports the pool picks
	// free a moment before, and two concurrent starts could pick the same one.
	launch sync.Mutex
	mu     sync.Mutex
	idle   map[string][]*lambdarie.Function
	logs   map[string]*lockedFile
	unpack map[string]*sync.Once
	closed bool
	all    map[*lambdarie.Function]struct{}
}

// Run invokes inv's function in an idle or a new RIE process.
func (p *Pool) Run(ctx context.Context, inv *Invocation) ([]byte, error) {
	key := configKey(inv)
	fn, err := p.acquire(ctx, key, inv)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(inv.Timeout) * time.Second
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ictx, cancel := context.WithTimeout(ctx, timeout+2*time.Second)
	defer cancel()
	out, err := fn.Invoke(ictx, []byte(inv.Payload))
	var fe *lambdarie.FunctionError
	switch {
	case err == nil || errors.As(err, &fe):
		p.release(key, fn)
		return out, err
	case ictx.Err() != nil && ctx.Err() == nil:
		p.discard(fn)
		return nil, &lambdarie.FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %d.00 seconds", inv.Timeout),
			Payload: mustJSON(map[string]string{"errorType": "Sandbox.Timedout", "errorMessage": fmt.Sprintf("Task timed out after %d.00 seconds", inv.Timeout)})}
	default:
		p.discard(fn)
		msg := fmt.Sprintf("Runtime exited without providing a reason: %v", err)
		return nil, &lambdarie.FunctionError{Type: "Runtime.ExitError", Message: msg,
			Payload: mustJSON(map[string]string{"errorType": "Runtime.ExitError", "errorMessage": msg})}
	}
}

// Busy returns the process ids of the RIE processes of the function whose name
// contains name that are running an invocation (for tests that kill one
// mid-invocation).
func (p *Pool) Busy(name string) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	idle := map[*lambdarie.Function]bool{}
	for _, list := range p.idle {
		for _, fn := range list {
			idle[fn] = true
		}
	}
	var out []int
	for fn := range p.all {
		if !idle[fn] && strings.Contains(fn.Name(), name) {
			out = append(out, fn.Pid())
		}
	}
	sort.Ints(out)
	return out
}

func (p *Pool) acquire(ctx context.Context, key string, inv *Invocation) (*lambdarie.Function, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("stack: shutting down")
	}
	if p.idle == nil {
		p.idle = map[string][]*lambdarie.Function{}
		p.logs = map[string]*lockedFile{}
		p.unpack = map[string]*sync.Once{}
		p.all = map[*lambdarie.Function]struct{}{}
	}
	for len(p.idle[key]) > 0 {
		list := p.idle[key]
		fn := list[len(list)-1]
		p.idle[key] = list[:len(list)-1]
		select {
		case <-fn.Exited():
			delete(p.all, fn)
			continue
		default:
		}
		p.mu.Unlock()
		return fn, nil
	}
	once, ok := p.unpack[inv.CodeSha256]
	if !ok {
		once = &sync.Once{}
		p.unpack[inv.CodeSha256] = once
	}
	logFile, err := p.logFile(inv.FunctionName)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.Dir, "code", safeName(inv.CodeSha256))
	var unpackErr error
	once.Do(func() { unpackErr = unzip(inv.CodePath, dir) })
	if unpackErr != nil {
		return nil, unpackErr
	}
	bootstrap := filepath.Join(dir, inv.Handler)
	if inv.Runtime == "" || strings.HasPrefix(inv.Runtime, "provided") {
		bootstrap = filepath.Join(dir, "bootstrap")
	}
	env := []string{
		"AWS_ENDPOINT_URL=" + p.Endpoint,
		"AWS_REGION=" + p.Region,
		"AWS_DEFAULT_REGION=" + p.Region,
		"AWS_ACCESS_KEY_ID=" + inv.Credentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + inv.Credentials.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + inv.Credentials.SessionToken,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"_HANDLER=" + inv.Handler,
	}
	keys := make([]string, 0, len(inv.Environment))
	for k := range inv.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+inv.Environment[k])
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p.launch.Lock()
	defer p.launch.Unlock()
	fn, err := lambdarie.Launch(lctx, lambdarie.Options{
		Bootstrap: bootstrap, Env: env, Name: inv.FunctionName,
		Timeout: time.Duration(inv.Timeout) * time.Second, MemoryMB: inv.MemorySize,
		LogLevel: "info", Output: logFile,
	})
	if err != nil {
		return nil, fmt.Errorf("stack: starting %s under aws-lambda-rie: %w", inv.FunctionName, err)
	}
	p.mu.Lock()
	p.all[fn] = struct{}{}
	p.mu.Unlock()
	return fn, nil
}

func (p *Pool) release(key string, fn *lambdarie.Function) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		fn.Close()
		return
	}
	p.idle[key] = append(p.idle[key], fn)
}

func (p *Pool) discard(fn *lambdarie.Function) {
	fn.Close()
	p.mu.Lock()
	delete(p.all, fn)
	p.mu.Unlock()
}

// logFile returns the function's log, Dir/logs/<function>.log. Call with p.mu held.
func (p *Pool) logFile(name string) (*lockedFile, error) {
	if f, ok := p.logs[name]; ok {
		return f, nil
	}
	if err := os.MkdirAll(filepath.Join(p.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(p.Dir, "logs", safeName(name)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("stack: function log: %w", err)
	}
	lf := &lockedFile{f: f}
	p.logs[name] = lf
	return lf, nil
}

// Close stops every RIE process and closes the logs.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	all := make([]*lambdarie.Function, 0, len(p.all))
	for fn := range p.all {
		all = append(all, fn)
	}
	p.all = map[*lambdarie.Function]struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, fn := range all {
		wg.Add(1)
		go func() { defer wg.Done(); fn.Close() }()
	}
	wg.Wait()
	p.mu.Lock()
	for _, f := range p.logs {
		_ = f.Close()
	}
	p.mu.Unlock()
}

// configKey identifies an execution environment: a process serves only
// invocations of the same code and configuration.
func configKey(inv *Invocation) string {
	h := sha256.New()
	keys := make([]string, 0, len(inv.Environment))
	for k := range inv.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, inv.Environment[k])
	}
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%s", inv.FunctionArn, inv.CodeSha256, inv.Timeout, inv.MemorySize, inv.Credentials.AccessKeyID)
	return hex.EncodeToString(h.Sum(nil))
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

func unzip(src, dir string) error {
	r, err := zip.OpenReader(src)
	if err != nil {
		return fmt.Errorf("stack: function code %s: %w", src, err)
	}
	defer r.Close()
	tmp := dir + ".tmp" + strconv.Itoa(os.Getpid())
	_ = os.RemoveAll(tmp)
	for _, f := range r.File {
		name := filepath.Clean(f.Name)
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("stack: function code %s: bad entry %q", src, f.Name)
		}
		path := filepath.Join(tmp, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		in, err := f.Open()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("stack: unpacking %s: %w", src, err)
		}
	}
	_ = os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// lockedFile serialises the writes of a function's RIE processes to its log.
type lockedFile struct {
	mu sync.Mutex
	f  *os.File
}

func (l *lockedFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

func (l *lockedFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
