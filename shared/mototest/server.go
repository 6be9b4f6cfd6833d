// Package mototest runs a private moto_server for tests and local runs: one fresh
// process per caller on 127.0.0.1, with Step Functions executing state machines,
// the docker-free Lambda stub, and moto 5.2.1's known bugs patched by an embedded
// launcher (see launcher.py). It also creates the project's table, queues, bucket,
// Lambda stubs and state machine with the same properties as template.yaml.
package mototest

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

//go:embed launcher.py
var launcherScript []byte

// Region is the region every client of the server uses.
const Region = "us-east-1"

// AccountID is the account moto assigns to the static test credentials.
const AccountID = "123456789012"

// InstallHint tells a developer how to get moto when it is missing.
const InstallHint = "moto_server not found: install it with `pip install 'moto[server]'` (moto >= 5.2.1), or set EXAMINA_MOTO_PYTHON to a python that imports moto"

// ErrNotInstalled is returned by Launch when moto is not installed.
var ErrNotInstalled = errors.New(InstallHint)

// Server is a running moto_server process. Its methods are safe for concurrent use.
type Server struct {
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
	dir      string
	log      *tailBuffer
	once     sync.Once
	closeErr error
	http     *http.Client
}

// Start launches a fresh moto_server for t and stops it when t's cleanups run.
// When moto is not installed, Start fails the test if the CI environment
// variable is set and skips it otherwise, in both cases saying how to install it.
func Start(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Launch(ctx)
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("mototest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moto_server log (tail):\n%s", s.Log())
		}
		if err := s.Close(); err != nil {
			t.Errorf("mototest: stopping moto_server: %v", err)
		}
	})
	return s
}

// Launch starts a fresh moto_server on a free port of 127.0.0.1 and returns once it
// answers HTTP requests. It returns ErrNotInstalled when neither moto_server nor a
// python importing moto can be found. The caller must Close the server.
func Launch(ctx context.Context) (*Server, error) {
	python := os.Getenv("EXAMINA_MOTO_PYTHON")
	if python == "" {
		if _, err := exec.LookPath("moto_server"); err != nil {
			return nil, ErrNotInstalled
		}
		python = "python3"
	}
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding
		s, err := launch(ctx, python)
		if err == nil || errors.Is(err, ErrNotInstalled) || ctx.Err() != nil {
			return s, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(ctx context.Context, python string) (*Server, error) {
	dir, err := os.MkdirTemp("", "mototest-")
	if err != nil {
		return nil, fmt.Errorf("mototest: temp dir: %w", err)
	}
	script := filepath.Join(dir, "launcher.py")
	if err := os.WriteFile(script, launcherScript, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("mototest: writing launcher: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		exited:   make(chan struct{}),
		dir:      dir,
		log:      &tailBuffer{max: 64 << 10},
		http:     &http.Client{Timeout: 30 * time.Second},
	}
	s.cmd = exec.Command(python, script, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	s.cmd.Dir = dir
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotInstalled
		}
		return nil, fmt.Errorf("mototest: starting %s: %w", python, err)
	}
	var waitErr error
	go func() {
		waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Close()
		select {
		case <-s.exited:
			if s.cmd.ProcessState != nil && s.cmd.ProcessState.ExitCode() == 3 {
				return nil, ErrNotInstalled
			}
			return nil, fmt.Errorf("mototest: moto_server exited (%v): %s", waitErr, s.log.String())
		default:
		}
		return nil, fmt.Errorf("mototest: %w; log: %s", err, s.log.String())
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+"/moto-api/config", nil)
		if err != nil {
			return err
		}
		resp, err := s.http.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
		}
		select {
		case <-s.exited:
			return errors.New("moto_server exited before answering")
		case <-ctx.Done():
			return fmt.Errorf("moto_server did not answer on %s: %w", s.endpoint, ctx.Err())
		case <-tick.C:
		}
	}
}

// Endpoint returns the server's base URL, e.g. "http://127.0.0.1:40123".
func (s *Server) Endpoint() string { return s.endpoint }

// Log returns the tail of the server's output.
func (s *Server) Log() string { return s.log.String() }

// AWSConfig returns an SDK configuration that talks to the server: static
// credentials "testing", region us-east-1 and BaseEndpoint = Endpoint().
// S3 clients made from it need no path-style option: the SDK uses path-style
// addressing for IP-address endpoints.
func (s *Server) AWSConfig(ctx context.Context) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(s.endpoint),
	}
}

// Env returns the environment variables that point an AWS SDK at the server
// (AWS_ENDPOINT_URL, AWS_REGION, static credentials), in os.Environ form.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.endpoint,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Close stops the server (SIGTERM, then SIGKILL after five seconds) and removes
// its temporary files. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		if s.cmd.Process != nil {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.exited
			}
		}
		s.closeErr = os.RemoveAll(s.dir)
	})
	return s.closeErr
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mototest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
