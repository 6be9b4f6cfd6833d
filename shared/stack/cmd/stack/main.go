// Command stack runs the whole Examina stack on this machine (see package
// shared/stack). scripts/stack builds and runs it.
//
//	stack up [--dir DIR] [--template template.yaml] [--stack-name NAME] [--parameter-overrides K=V ...]
//	stack down [--dir DIR]
//	stack status [--dir DIR]
//
// `up` starts the engine in the background (`stack serve`), waits until the stack
// is ready, writes DIR/env and prints it; `down` stops the engine, which stops
// every process it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/examina-dev/examina-serverless/shared/stack"
)

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	case "down":
		err = down(os.Args[2:])
	case "status":
		err = status(os.Args[2:])
	case "-h", "--help", "help":
		usage(os.Stdout)
		return
	default:
		usage(os.Stderr)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: scripts/stack up [--dir DIR] [--template FILE] [--stack-name NAME] [--parameter-overrides Key=Value ...]
       scripts/stack down [--dir DIR]
       scripts/stack status [--dir DIR]`)
}

type options struct {
	dir, template, name string
	params              map[string]string
	timeout             time.Duration
}

func parse(cmd string, args []string) (*options, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	o := &options{params: map[string]string{}}
	fs.StringVar(&o.dir, "dir", ".stack", "the stack's state directory (env, logs/)")
	fs.StringVar(&o.template, "template", "template.yaml", "the SAM template")
	fs.StringVar(&o.name, "stack-name", "examina", "the CloudFormation stack's name")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long up waits for the stack")
	// --parameter-overrides takes every following Key=Value, as sam deploy does.
	var rest []string
	for i, a := range args {
		if a == "--parameter-overrides" || a == "-parameter-overrides" {
			rest = args[i+1:]
			args = args[:i]
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	for _, kv := range rest {
		for _, p := range strings.Fields(kv) {
			k, v, ok := strings.Cut(p, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--parameter-overrides: %q is not Key=Value", p)
			}
			o.params[k] = v
		}
	}
	abs, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, err
	}
	o.dir = abs
	return o, nil
}

func pidFile(dir string) string { return filepath.Join(dir, "engine.pid") }

// running returns the engine's pid when it is alive.
func running(dir string) (int, bool) {
	raw, err := os.ReadFile(pidFile(dir))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}

func up(args []string) error {
	o, err := parse("up", args)
	if err != nil {
		return err
	}
	if pid, ok := running(o.dir); ok {
		return fmt.Errorf("a stack is already up in %s (engine pid %d): scripts/stack down --dir %s", o.dir, pid, o.dir)
	}
	if _, err := os.Stat(o.template); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(o.dir, "logs"), 0o755); err != nil {
		return err
	}
	for _, f := range []string{"env", "failed", "engine.pid"} {
		_ = os.Remove(filepath.Join(o.dir, f))
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(o.dir, "logs", "engine.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, append([]string{"serve"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the engine: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(o.timeout)
	for {
		if env, err := os.ReadFile(filepath.Join(o.dir, "env")); err == nil {
			fmt.Print(string(env))
			fmt.Fprintf(os.Stderr, "stack %s up in %.1fs (engine pid %d); logs in %s; source %s\n",
				o.name, time.Since(start).Seconds(), cmd.Process.Pid, filepath.Join(o.dir, "logs"), filepath.Join(o.dir, "env"))
			return nil
		}
		select {
		case err := <-exited:
			msg, _ := os.ReadFile(filepath.Join(o.dir, "failed"))
			if len(msg) == 0 {
				msg = tail(filepath.Join(o.dir, "logs", "engine.log"), 4000)
			}
			return fmt.Errorf("the stack did not come up (engine exited: %v):\n%s", err, msg)
		case <-deadline:
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			return fmt.Errorf("the stack was not ready after %s; see %s", o.timeout, filepath.Join(o.dir, "logs", "engine.log"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(path string, n int) []byte {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return b
}

func serve(args []string) error {
	o, err := parse("serve", args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := os.WriteFile(pidFile(o.dir), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidFile(o.dir))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	upCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	st, err := stack.Up(upCtx, stack.Config{Dir: o.dir, Template: o.template, StackName: o.name, Parameters: o.params, Logger: log})
	if err != nil {
		_ = os.WriteFile(filepath.Join(o.dir, "failed"), []byte(err.Error()+"\n"), 0o644)
		return err
	}
	defer os.Remove(filepath.Join(o.dir, "env"))
	if err := os.WriteFile(filepath.Join(o.dir, "moto.pid"), []byte(strconv.Itoa(st.MotoPid())+"\n"), 0o644); err != nil {
		_ = st.Close()
		return err
	}
	defer os.Remove(filepath.Join(o.dir, "moto.pid"))
	if err := st.WriteEnv(); err != nil {
		_ = st.Close()
		return err
	}
	log.Info("stack ready", slog.String("dir", o.dir))
	<-ctx.Done()
	log.Info("stopping")
	return st.Close()
}

func down(args []string) error {
	o, err := parse("down", args)
	if err != nil {
		return err
	}
	pid, ok := running(o.dir)
	if !ok {
		killMoto(o.dir)
		fmt.Fprintf(os.Stderr, "no stack is running in %s\n", o.dir)
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			fmt.Fprintf(os.Stderr, "stack in %s stopped\n", o.dir)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	killMoto(o.dir)
	return errors.New("the engine did not stop within 30s: killed it")
}

// killMoto stops a moto left behind by an engine that died.
func killMoto(dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "moto.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	_ = os.Remove(filepath.Join(dir, "moto.pid"))
}

func status(args []string) error {
	o, err := parse("status", args)
	if err != nil {
		return err
	}
	pid, ok := running(o.dir)
	if !ok {
		return fmt.Errorf("no stack is running in %s", o.dir)
	}
	env, err := os.ReadFile(filepath.Join(o.dir, "env"))
	if err != nil {
		fmt.Printf("# starting (engine pid %d)\n", pid)
		return nil
	}
	fmt.Printf("# up (engine pid %d); logs in %s\n%s", pid, filepath.Join(o.dir, "logs"), env)
	return nil
}
