// Package lambdarie builds Go Lambda functions as a provided.al2023 "bootstrap"
// and runs them under the AWS Lambda Runtime Interface Emulator (aws-lambda-rie),
// the same emulator `sam local invoke` runs inside its container, so tests and
// `make invoke-<Function>` exercise the real binary and the real runtime API.
package lambdarie

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RIEVersion is the pinned emulator version (go install …/cmd/aws-lambda-rie@RIEVersion).
const RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// InstallHint says how to install the emulator.
const InstallHint = "aws-lambda-rie not found: go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@" +
	RIEVersion + " (or set EXAMINA_RIE to its path)"

// ErrNotInstalled is returned by Launch when aws-lambda-rie cannot be found.
var ErrNotInstalled = errors.New(InstallHint)

// InvokePath is the emulator's invoke endpoint.
const InvokePath = "/2015-03-31/functions/function/invocations"

// Build compiles the main package in dir (absolute, or relative to the
// repository root) into a bootstrap for linux on the host's architecture, as
// the deployed one is built (CGO_ENABLED=0, -tags lambda.norpc, -trimpath),
// and returns its path inside t.TempDir().
func Build(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := BuildBootstrap(ctx, dir, out, runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	return out
}

// BuildBootstrap compiles the main package in dir (absolute, or relative to the
// repository root) into out for linux/goarch with CGO_ENABLED=0, -tags
// lambda.norpc, -trimpath and -ldflags "-s -w". Use "arm64" for the deployed
// architecture and runtime.GOARCH to run the result under aws-lambda-rie here.
func BuildBootstrap(ctx context.Context, dir, out, goarch string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lambdarie: building %s: %w\n%s", dir, err, msg)
	}
	return nil
}

// RepoRoot is the module's root: the nearest directory above the working directory
// that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Options configures Launch.
type Options struct {
	Bootstrap string   // path of the built bootstrap
	Env       []string // the function's environment, "KEY=value"; nothing else is inherited but PATH, HOME and TMPDIR
	Name      string   // AWS_LAMBDA_FUNCTION_NAME; default "function"
	Timeout   time.Duration
	MemoryMB  int       // AWS_LAMBDA_FUNCTION_MEMORY_SIZE; default 256
	LogLevel  string    // the emulator's --log-level; default "warn" ("info" prints the REPORT lines)
	Output    io.Writer // the emulator's and the function's logs; nil discards them
}

// Function is a bootstrap running under aws-lambda-rie. Invoke calls are
// serialized: the emulator runs one invocation at a time, like one Lambda
// execution environment.
type Function struct {
	name   string
	url    string
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	once   sync.Once
	http   *http.Client
}

// Start launches bootstrap under the emulator with env for t, and stops it when
// t's cleanups run. Without aws-lambda-rie, the test fails when the CI
// environment variable is set and is skipped otherwise.
func Start(t testing.TB, bootstrap string, env []string) *Function {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := Launch(ctx, Options{Bootstrap: bootstrap, Env: env, Output: logs})
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() {
			t.Logf("aws-lambda-rie output:\n%s", logs.String())
		}
	})
	return f
}

// FindRIE returns the emulator's path: $EXAMINA_RIE, aws-lambda-rie on PATH, or
// $(go env GOPATH)/bin/aws-lambda-rie; ErrNotInstalled otherwise.
func FindRIE() (string, error) {
	if p := os.Getenv("EXAMINA_RIE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", ErrNotInstalled
		}
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	p := filepath.Join(filepath.SplitList(gopath + string(filepath.ListSeparator))[0], "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err != nil {
		return "", ErrNotInstalled
	}
	return p, nil
}

// Launch starts the emulator on free ports of 127.0.0.1 (its invoke API and
// the runtime API the bootstrap polls) and returns once it accepts connections.
// The caller must Close the function.
func Launch(ctx context.Context, opts Options) (*Function, error) {
	rie, err := FindRIE()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(opts.Bootstrap); err != nil {
		return nil, fmt.Errorf("lambdarie: bootstrap: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = "function"
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	f := &Function{name: name, url: "http://" + addr + InvokePath, exited: make(chan struct{}), http: &http.Client{Timeout: timeout + 30*time.Second}}
	memory := opts.MemoryMB
	if memory <= 0 {
		memory = 256
	}
	level := opts.LogLevel
	if level == "" {
		level = "warn"
	}
	f.cmd = exec.Command(rie, "--log-level", level,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", runtimeAddr,
		opts.Bootstrap)
	f.cmd.Dir = filepath.Dir(opts.Bootstrap)
	env := []string{}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"AWS_LAMBDA_FUNCTION_NAME="+name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(timeout.Seconds())),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(memory),
	)
	f.cmd.Env = append(env, opts.Env...)
	out := opts.Output
	if out == nil {
		out = io.Discard
	}
	f.cmd.Stdout, f.cmd.Stderr = out, out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := f.cmd.Start(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotInstalled
		}
		return nil, fmt.Errorf("lambdarie: starting %s: %w", rie, err)
	}
	go func() {
		_ = f.cmd.Wait()
		close(f.exited)
	}()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			return f, nil
		}
		select {
		case <-f.exited:
			return nil, fmt.Errorf("lambdarie: aws-lambda-rie exited before listening on %s", addr)
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lambdarie: aws-lambda-rie not listening on %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Name returns the function's name (AWS_LAMBDA_FUNCTION_NAME).
func (f *Function) Name() string { return f.name }

// Pid returns the emulator's process id (its process group holds the bootstrap).
func (f *Function) Pid() int { return f.cmd.Process.Pid }

// Exited is closed when the emulator's process has exited.
func (f *Function) Exited() <-chan struct{} { return f.exited }

// FunctionError is the error a function invocation returned: the Lambda
// runtime's error document (errorType is the Go error's type name).
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
	Payload []byte `json:"-"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("lambdarie: function error %s: %s", e.Type, e.Message)
}

// Invoke sends payload to the function and returns its response. When the
// function returns an error, Invoke returns its error document and a
// *FunctionError.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambdarie: invoking: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 7<<20))
	if err != nil {
		return nil, fmt.Errorf("lambdarie: reading response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lambdarie: invoke: %s: %s", resp.Status, body)
	}
	if fe := functionError(resp.Header, body); fe != nil {
		return body, fe
	}
	return body, nil
}

// functionError recognises a function's error. Lambda marks it with the
// X-Amz-Function-Error header; aws-lambda-rie sends no header, so a body that is
// exactly a runtime error document (errorType and errorMessage, optionally
// stackTrace, nothing else) counts as one too.
func functionError(h http.Header, body []byte) *FunctionError {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil && h.Get("X-Amz-Function-Error") == "" {
		return nil
	}
	_, hasType := doc["errorType"]
	_, hasMessage := doc["errorMessage"]
	extra := len(doc) - 2
	if _, ok := doc["stackTrace"]; ok {
		extra--
	}
	if h.Get("X-Amz-Function-Error") == "" && (!hasType || !hasMessage || extra != 0) {
		return nil
	}
	fe := &FunctionError{Payload: body}
	_ = json.Unmarshal(body, fe)
	return fe
}

// InvokeFile invokes the function with the contents of an event file.
func (f *Function) InvokeFile(ctx context.Context, path string) ([]byte, error) {
	payload, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lambdarie: %w", err)
	}
	return f.Invoke(ctx, payload)
}

// Close stops the emulator and the bootstrap it started. It is safe to call
// more than once.
func (f *Function) Close() {
	f.once.Do(func() {
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-f.exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
			<-f.exited
		}
	})
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("lambdarie: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
