// Package emulator runs moto_server, the AWS emulator of the local stack and of
// the integration tests, with the launcher's patches (launcher.py), and the SAM
// translator (transform.py). It finds the Python interpreter that can import moto
// wherever moto was installed (pyenv, a venv, pipx), not only `python3`.
package emulator

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed launcher.py
var launcherScript []byte

//go:embed transform.py
var transformScript []byte

// InstallHint tells a developer how to get moto when it is missing.
const InstallHint = "moto_server not found: install it with `pip install 'moto[server]'` (moto >= 5.2.1), or set EXAMINA_MOTO_PYTHON to a python that imports moto"

// ErrNotInstalled is returned when no Python interpreter can import moto.
var ErrNotInstalled = errors.New(InstallHint)

// Region is the region every client of the emulator uses.
const Region = "us-east-1"

// AccountID is the account moto assigns.
const AccountID = "123456789012"

// FindPython returns a Python interpreter that imports moto: $EXAMINA_MOTO_PYTHON
// when set; otherwise the interpreter named by the shebang of moto_server on
// PATH (how pip, venvs and pipx install it), then python3 and python on PATH.
// Each candidate is asked to import moto; ErrNotInstalled when none can.
func FindPython(ctx context.Context) (string, error) {
	if p := os.Getenv("EXAMINA_MOTO_PYTHON"); p != "" {
		if importsMoto(ctx, p) {
			return p, nil
		}
		return "", fmt.Errorf("EXAMINA_MOTO_PYTHON=%s cannot import moto: %w", p, ErrNotInstalled)
	}
	for _, p := range candidates() {
		if importsMoto(ctx, p) {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

func candidates() []string {
	var out []string
	if script, err := exec.LookPath("moto_server"); err == nil {
		if p := shebangPython(script); p != "" {
			out = append(out, p)
		}
		// A venv's or pipx's bin directory holds its python beside moto_server.
		for _, name := range []string{"python3", "python"} {
			p := filepath.Join(filepath.Dir(script), name)
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	for _, name := range []string{"python3", "python"} {
		if p, err := exec.LookPath(name); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// shebangPython returns the interpreter of a script's "#!" line when it is a
// Python ("#!/venv/bin/python3", "#!/usr/bin/env python3"), else "".
func shebangPython(script string) string {
	f, err := os.Open(script)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 512)).ReadString('\n')
	if err != nil && line == "" {
		return ""
	}
	return parseShebang(line)
}

func parseShebang(line string) string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "#!") {
		return ""
	}
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		return ""
	}
	prog := fields[0]
	if filepath.Base(prog) == "env" {
		args := fields[1:]
		for len(args) > 0 && strings.HasPrefix(args[0], "-") {
			args = args[1:]
		}
		if len(args) == 0 {
			return ""
		}
		prog = args[0]
	}
	if !strings.HasPrefix(filepath.Base(prog), "python") {
		return ""
	}
	return prog
}

func importsMoto(ctx context.Context, python string) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", "import moto")
	return cmd.Run() == nil
}

// Options configures Launch.
type Options struct {
	// Stack turns on the local stack's patches: IAM enforced, Lambda invocations
	// forwarded to Invoker, the CloudFormation resource types the template needs.
	Stack bool
	// Invoker is the URL the patched Lambda posts every invocation to (Stack only).
	Invoker string
	// Dir holds the launcher, the functions' code and the administrator's
	// credentials (Stack); a temporary directory when empty, removed by Close.
	Dir string
	// Log receives moto's output besides the tail Log returns.
	Log io.Writer
}

// Server is a running moto_server process. Its methods are safe for concurrent use.
type Server struct {
	endpoint string
	dir      string
	ownDir   bool
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *tailBuffer
	once     sync.Once
	closeErr error
	http     *http.Client
}

// Launch starts a fresh moto_server on a free port of 127.0.0.1 and returns once
// it answers HTTP requests. The caller must Close the server.
func Launch(ctx context.Context, opts Options) (*Server, error) {
	python, err := FindPython(ctx)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding
		s, err := launch(ctx, python, opts)
		if err == nil || errors.Is(err, ErrNotInstalled) || ctx.Err() != nil {
			return s, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(ctx context.Context, python string, opts Options) (*Server, error) {
	dir, own := opts.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "moto-")
		if err != nil {
			return nil, fmt.Errorf("emulator: temp dir: %w", err)
		}
		dir, own = d, true
	}
	cleanup := func() {
		if own {
			_ = os.RemoveAll(dir)
		}
	}
	script := filepath.Join(dir, "launcher.py")
	if err := os.WriteFile(script, launcherScript, 0o600); err != nil {
		cleanup()
		return nil, fmt.Errorf("emulator: writing launcher: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		cleanup()
		return nil, err
	}
	s := &Server{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		dir:      dir,
		ownDir:   own,
		exited:   make(chan struct{}),
		log:      &tailBuffer{max: 64 << 10},
		http:     &http.Client{Timeout: 30 * time.Second},
	}
	args := []string{script, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}
	if opts.Stack {
		codeDir := filepath.Join(dir, "code")
		if err := os.MkdirAll(codeDir, 0o755); err != nil {
			cleanup()
			return nil, fmt.Errorf("emulator: %w", err)
		}
		_ = os.Remove(s.CredentialsFile())
		args = append(args, "--stack", "--invoker", opts.Invoker, "--code-dir", codeDir, "--credentials-file", s.CredentialsFile())
	}
	var out io.Writer = s.log
	if opts.Log != nil {
		out = io.MultiWriter(s.log, opts.Log)
	}
	s.cmd = exec.Command(python, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout = out
	s.cmd.Stderr = out
	s.cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		cleanup()
		return nil, fmt.Errorf("emulator: starting %s: %w", python, err)
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
			return nil, fmt.Errorf("emulator: moto_server exited (%v): %s", waitErr, s.log.String())
		default:
		}
		return nil, fmt.Errorf("emulator: %w; log: %s", err, s.log.String())
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

// Pid returns the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// CredentialsFile is where a stack's server writes its administrator's access key
// (JSON with AccessKeyId and SecretAccessKey).
func (s *Server) CredentialsFile() string { return filepath.Join(s.dir, "admin-credentials.json") }

// Log returns the tail of the server's output.
func (s *Server) Log() string { return s.log.String() }

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
		if s.ownDir {
			s.closeErr = os.RemoveAll(s.dir)
		}
	})
	return s.closeErr
}

// Transform runs the SAM translator on template (transform.py) with the uploaded
// artifacts and the parameter values, and returns the CloudFormation template.
func Transform(ctx context.Context, template string, artifactsJSON, parametersJSON []byte) ([]byte, error) {
	python, err := FindPython(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sam-transform-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{"transform.py": transformScript, "artifacts.json": artifactsJSON, "parameters.json": parametersJSON}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, filepath.Join(dir, "transform.py"), template,
		filepath.Join(dir, "artifacts.json"), filepath.Join(dir, "parameters.json"))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 3 {
			return nil, fmt.Errorf("emulator: %s", strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("emulator: transforming %s: %w: %s", template, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// ListArtifacts returns the template's local artifacts (transform.py --list): each
// resource's CodeUri and BuildMethod or DefinitionUri, as JSON keyed by logical id.
func ListArtifacts(ctx context.Context, template string) ([]byte, error) {
	python, err := FindPython(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sam-transform-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "transform.py")
	if err := os.WriteFile(script, transformScript, 0o600); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, script, "--list", template)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("emulator: reading %s: %w: %s", template, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulator: finding a free port: %w", err)
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
