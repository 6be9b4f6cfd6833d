// Package mototest runs a private moto_server for tests and local runs: one fresh
// process per caller on 127.0.0.1, with Step Functions executing state machines,
// the docker-free Lambda stub, and moto 5.2.1's known bugs patched by the
// emulator's launcher (shared/stack/emulator). It also creates the project's table, queues, bucket,
// Lambda stubs and state machine with the same properties as template.yaml.
package mototest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/examina-dev/examina-serverless/shared/stack/emulator"
)

// Region is the region every client of the server uses.
const Region = emulator.Region

// AccountID is the account moto assigns to the static test credentials.
const AccountID = emulator.AccountID

// InstallHint tells a developer how to get moto when it is missing.
const InstallHint = emulator.InstallHint

// ErrNotInstalled is returned by Launch when moto is not installed.
var ErrNotInstalled = emulator.ErrNotInstalled

// Server is a running moto_server process. Its methods are safe for concurrent use.
type Server struct {
	p        *emulator.Server
	endpoint string
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
// answers HTTP requests. It returns ErrNotInstalled when no python importing moto
// can be found (emulator.FindPython). The caller must Close the server.
func Launch(ctx context.Context) (*Server, error) {
	p, err := emulator.Launch(ctx, emulator.Options{})
	if err != nil {
		return nil, err
	}
	return &Server{p: p, endpoint: p.Endpoint(), http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Endpoint returns the server's base URL, e.g. "http://127.0.0.1:40123".
func (s *Server) Endpoint() string { return s.endpoint }

// Log returns the tail of the server's output.
func (s *Server) Log() string { return s.p.Log() }

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
func (s *Server) Close() error { return s.p.Close() }

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) { return emulator.FreePort() }
