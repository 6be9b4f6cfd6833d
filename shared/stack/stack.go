// Package stack is the local deployment engine of `scripts/stack`: it deploys the
// real template.yaml on one machine without Docker. The SAM translator turns the
// template into CloudFormation; a patched moto_server (shared/stack/emulator)
// creates every resource through its CloudFormation API, with IAM enforced; the
// bootstraps, built for this machine as `sam build` builds them, run under
// aws-lambda-rie in a pool of processes for every Lambda invocation moto makes
// (Step Functions tasks, S3 notifications, the Invoke API); an SQS poller
// honours the event source mappings as Lambda's does; an HTTP front serves the
// HTTP API's routes with IAM (SigV4) authorisation. It is local tooling, not
// part of any Lambda.
package stack

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/examina-dev/examina-serverless/shared/stack/emulator"
	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
)

// Config says what to deploy and where the stack keeps its state.
type Config struct {
	Dir        string            // state directory: env, logs/, moto/, code/; created
	Template   string            // the SAM template
	CodeRoot   string            // the root of CodeUri and DefinitionUri paths; default the template's directory
	StackName  string            // default "examina"
	Parameters map[string]string // parameter overrides
	Logger     *slog.Logger      // the engine's own log; default discards
}

// Stack is a deployed local stack. Close stops every process it started.
type Stack struct {
	cfg      Config
	log      *slog.Logger
	moto     *emulator.Server
	invoker  *Invoker
	pool     *Pool
	servers  []*http.Server
	pollers  []*Poller
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	api      *awsAPI
	awsCfg   aws.Config
	env      map[string]string
	physical map[string]string
	apiFront *APIFront
	once     sync.Once
}

// EnvKeys are the variables of DIR/env, in the order they are written.
var EnvKeys = []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"STACK_NAME", "BUCKET_NAME", "API_URL", "TABLE_NAME", "QUEUE_URL", "DLQ_URL", "STATE_MACHINE_ARN"}

// outputEnv maps the template's outputs to DIR/env's variables.
var outputEnv = map[string]string{
	"BucketName":                "BUCKET_NAME",
	"TableName":                 "TABLE_NAME",
	"StateMachineArn":           "STATE_MACHINE_ARN",
	"AnalyzeQueueUrl":           "QUEUE_URL",
	"AnalyzeDeadLetterQueueUrl": "DLQ_URL",
}

// Up deploys the template and starts the event sources; it returns when the
// stack is ready. On error every process started so far is stopped.
func Up(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.StackName == "" {
		cfg.StackName = "examina"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, err
	}
	if cfg.Template, err = filepath.Abs(cfg.Template); err != nil {
		return nil, err
	}
	if _, err := lambdarie.FindRIE(); err != nil {
		return nil, err
	}
	for _, d := range []string{"logs", "moto", "code", "build"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("stack: %w", err)
		}
	}
	s := &Stack{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	bg, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	// The invoker first: moto is told its URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stack: invoker listener: %w", err)
	}
	s.pool = &Pool{Dir: cfg.Dir, Region: emulator.Region, Logger: s.log}
	s.invoker = &Invoker{Runner: s.pool, Logger: s.log}
	s.serve(ln, s.invoker)

	motoLog, err := os.OpenFile(filepath.Join(cfg.Dir, "logs", "moto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	s.moto, err = emulator.Launch(ctx, emulator.Options{Stack: true, Invoker: "http://" + ln.Addr().String() + "/invoke",
		Dir: filepath.Join(cfg.Dir, "moto"), Log: motoLog})
	if err != nil {
		return nil, fmt.Errorf("stack: starting moto: %w", err)
	}
	s.pool.Endpoint = s.moto.Endpoint()
	s.log.Info("moto up", slog.String("endpoint", s.moto.Endpoint()), slog.Int("pid", s.moto.Pid()))
	raw, err := os.ReadFile(s.moto.CredentialsFile())
	if err != nil {
		return nil, fmt.Errorf("stack: administrator credentials: %w", err)
	}
	var admin struct{ AccessKeyId, SecretAccessKey string }
	if err := json.Unmarshal(raw, &admin); err != nil {
		return nil, fmt.Errorf("stack: administrator credentials: %w", err)
	}
	creds := aws.Credentials{AccessKeyID: admin.AccessKeyId, SecretAccessKey: admin.SecretAccessKey, Source: "stack"}
	s.api = &awsAPI{endpoint: s.moto.Endpoint(), region: emulator.Region, creds: creds, http: &http.Client{Timeout: 20 * time.Minute}}
	s.awsCfg = aws.Config{Region: emulator.Region, BaseEndpoint: aws.String(s.moto.Endpoint()),
		Credentials: credentials.NewStaticCredentialsProvider(admin.AccessKeyId, admin.SecretAccessKey, "")}

	start := time.Now()
	if err := s.deploy(ctx); err != nil {
		return nil, err
	}
	s.log.Info("stack created", slog.Duration("took", time.Since(start)))
	if err := s.startEventSources(ctx, bg); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stack) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", slog.String("error", err.Error()))
		}
	}()
}

// artifact is a local file of the template that `sam build`/`sam package` handle.
type artifact struct {
	Type          string `json:"Type"`
	CodeURI       string `json:"CodeUri"`
	DefinitionURI string `json:"DefinitionUri"`
	BuildMethod   string `json:"BuildMethod"`
}

type s3Location struct {
	Bucket string `json:"Bucket"`
	Key    string `json:"Key"`
}

// deploy builds and uploads the artifacts, transforms the template and creates the stack.
func (s *Stack) deploy(ctx context.Context) error {
	raw, err := emulator.ListArtifacts(ctx, s.cfg.Template)
	if err != nil {
		return err
	}
	var arts map[string]artifact
	if err := json.Unmarshal(raw, &arts); err != nil {
		return fmt.Errorf("stack: artifacts of %s: %w", s.cfg.Template, err)
	}
	// The deployment bucket, as `sam deploy --resolve-s3` makes one outside the stack.
	bucket := "examina-stack-artifacts-" + emulator.AccountID
	client := s3.NewFromConfig(s.awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("stack: deployment bucket: %w", err)
	}
	root := s.cfg.CodeRoot
	if root == "" {
		root = filepath.Dir(s.cfg.Template)
	}
	locations := map[string]s3Location{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(arts))
	names := make([]string, 0, len(arts))
	for name := range arts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := arts[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := s.package_(ctx, root, name, a)
			if err != nil {
				errs <- err
				return
			}
			sum := sha256.Sum256(data)
			key := name + "-" + hex.EncodeToString(sum[:8])
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
				errs <- fmt.Errorf("stack: uploading %s: %w", name, err)
				return
			}
			mu.Lock()
			locations[name] = s3Location{Bucket: bucket, Key: key}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	locJSON, _ := json.Marshal(locations)
	params := s.cfg.Parameters
	if params == nil {
		params = map[string]string{}
	}
	paramJSON, _ := json.Marshal(params)
	template, err := emulator.Transform(ctx, s.cfg.Template, locJSON, paramJSON)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.cfg.Dir, "build", "template.json"), template, 0o644); err != nil {
		return err
	}
	if err := s.api.createStack(ctx, s.cfg.StackName, template, params); err != nil {
		return err
	}
	return s.waitCreated(ctx)
}

// package_ builds a function (a zip holding bootstrap) or reads a definition.
func (s *Stack) package_(ctx context.Context, root, name string, a artifact) ([]byte, error) {
	if a.DefinitionURI != "" {
		data, err := os.ReadFile(filepath.Join(root, a.DefinitionURI))
		if err != nil {
			return nil, fmt.Errorf("stack: %s DefinitionUri: %w", name, err)
		}
		return data, nil
	}
	out := filepath.Join(s.cfg.Dir, "build", name, "bootstrap")
	start := time.Now()
	switch a.BuildMethod {
	case "go1.x":
		if err := lambdarie.BuildBootstrap(ctx, filepath.Join(root, a.CodeURI), out, runtime.GOARCH); err != nil {
			return nil, err
		}
	case "makefile":
		if err := makeBootstrap(ctx, filepath.Join(root, a.CodeURI), name, filepath.Dir(out)); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("stack: %s: BuildMethod %q is not supported (go1.x or makefile, as `sam build` builds Go)", name, a.BuildMethod)
	}
	s.log.Info("built", slog.String("function", name), slog.String("goarch", runtime.GOARCH), slog.Duration("took", time.Since(start)))
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(bin); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Stack) waitCreated(ctx context.Context) error {
	for {
		d, err := s.api.describeStack(ctx, s.cfg.StackName)
		if err != nil {
			return err
		}
		switch {
		case d.Status == "CREATE_COMPLETE":
			return nil
		case strings.HasSuffix(d.Status, "_FAILED") || strings.Contains(d.Status, "ROLLBACK"):
			reason := d.Reason
			if res, err := s.api.listStackResources(ctx, s.cfg.StackName); err == nil {
				for _, r := range res.Resources {
					if strings.HasSuffix(r.Status, "_FAILED") {
						reason += fmt.Sprintf("; %s (%s): %s", r.LogicalID, r.Type, r.Reason)
					}
				}
			}
			return fmt.Errorf("stack: %s is %s: %s (moto log: %s)", s.cfg.StackName, d.Status, reason, filepath.Join(s.cfg.Dir, "logs", "moto.log"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stack: waiting for %s (%s): %w", s.cfg.StackName, d.Status, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startEventSources starts the SQS pollers of the event source mappings and the
// HTTP API front, then fills Env from the stack's outputs and resources.
func (s *Stack) startEventSources(ctx, bg context.Context) error {
	d, err := s.api.describeStack(ctx, s.cfg.StackName)
	if err != nil {
		return err
	}
	res, err := s.api.listStackResources(ctx, s.cfg.StackName)
	if err != nil {
		return err
	}
	env := map[string]string{
		"AWS_ENDPOINT_URL":      s.moto.Endpoint(),
		"AWS_REGION":            emulator.Region,
		"AWS_DEFAULT_REGION":    emulator.Region,
		"AWS_ACCESS_KEY_ID":     s.api.creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": s.api.creds.SecretAccessKey,
		"STACK_NAME":            s.cfg.StackName,
	}
	s.physical = map[string]string{}
	for _, r := range res.Resources {
		s.physical[r.LogicalID] = r.PhysicalID
	}
	for _, o := range d.Outputs {
		if k, ok := outputEnv[o.Key]; ok {
			env[k] = o.Value
		}
	}
	mappings, err := s.api.eventSourceMappings(ctx)
	if err != nil {
		return err
	}
	for _, m := range mappings {
		if m.State != "" && m.State != "Enabled" {
			continue
		}
		p, err := NewPoller(ctx, s.awsCfg, s.api, m, s.log)
		if err != nil {
			return err
		}
		s.pollers = append(s.pollers, p)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			p.Run(bg)
		}()
	}
	for _, r := range res.Resources {
		if r.Type != "AWS::ApiGatewayV2::Api" {
			continue
		}
		front, err := NewAPIFront(ctx, s.api, r.PhysicalID, s.log)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s.apiFront = front
		s.serve(ln, front)
		env["API_URL"] = "http://" + ln.Addr().String()
		break
	}
	s.env = env
	return nil
}

// InvokeFunction invokes a deployed function synchronously through the
// emulator's Lambda API, as the administrator; it returns the payload and the
// X-Amz-Function-Error header.
func (s *Stack) InvokeFunction(ctx context.Context, function string, payload []byte) ([]byte, string, error) {
	return s.api.invoke(ctx, function, payload)
}

// AWSConfig returns an SDK configuration for the emulator with the administrator's credentials.
func (s *Stack) AWSConfig() aws.Config { return s.awsCfg }

// PhysicalID returns the physical id of a resource of the template (a function's
// name, a table's name…), "" when there is none.
func (s *Stack) PhysicalID(logicalID string) string { return s.physical[logicalID] }

// FunctionLog returns the path of the log of a function of the template (its
// logical id): what its RIE processes print, REPORT lines included.
func (s *Stack) FunctionLog(logicalID string) string {
	return filepath.Join(s.cfg.Dir, "logs", safeName(s.physical[logicalID])+".log")
}

// Dir returns the stack's state directory (env, logs/).
func (s *Stack) Dir() string { return s.cfg.Dir }

// Env returns DIR/env's variables.
func (s *Stack) Env() map[string]string { return s.env }

// Pool returns the stack's RIE pool.
func (s *Stack) Pool() *Pool { return s.pool }

// MotoPid returns the emulator's process id.
func (s *Stack) MotoPid() int { return s.moto.Pid() }

// WriteEnv writes DIR/env, sourceable by a shell (export KEY='value').
func (s *Stack) WriteEnv() error {
	var b strings.Builder
	for _, k := range EnvKeys {
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(s.env[k], "'", `'\''`))
	}
	path := filepath.Join(s.cfg.Dir, "env")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Close stops the pollers, the HTTP servers, the RIE processes and moto.
func (s *Stack) Close() error {
	var err error
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			_ = srv.Shutdown(ctx)
		}
		if s.pool != nil {
			s.pool.Close()
		}
		if s.moto != nil {
			err = s.moto.Close()
		}
		s.wg.Wait()
	})
	return err
}

// makeBootstrap builds a BuildMethod: makefile function as `sam build` does: make's
// build-<LogicalId> target of the Makefile in the function's CodeUri, with
// ARTIFACTS_DIR the directory that must receive bootstrap. LAMBDA_GOARCH is set to this
// machine's architecture, since the bootstrap runs here under the emulator.
func makeBootstrap(ctx context.Context, codeDir, name, artifacts string) error {
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "make", "--makefile", "Makefile", "build-"+name,
		"ARTIFACTS_DIR="+artifacts, "LAMBDA_GOARCH="+runtime.GOARCH)
	cmd.Dir = codeDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("stack: %s: make build-%s: %w\n%s", name, name, err, out)
	}
	if _, err := os.Stat(filepath.Join(artifacts, "bootstrap")); err != nil {
		return fmt.Errorf("stack: %s: make build-%s wrote no bootstrap: %w", name, name, err)
	}
	return nil
}
