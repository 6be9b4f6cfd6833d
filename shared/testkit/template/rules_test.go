package template_test

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/providers"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/shared/testkit/template"
	"github.com/examina-dev/examina-serverless/statemachine"
)

// tpl is the parsed repository template.yaml with helpers to walk it.
type tpl struct {
	t    *testing.T
	root string
	doc  map[string]any
}

func load(t *testing.T) *tpl {
	t.Helper()
	root, err := mototest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := template.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return &tpl{t: t, root: root, doc: doc}
}

// get walks keys (map keys or decimal slice indexes) and returns nil when absent.
func get(v any, path ...string) any {
	for _, k := range path {
		switch c := v.(type) {
		case map[string]any:
			v = c[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

func (p *tpl) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, r := range p.doc["Resources"].(map[string]any) {
		if m, ok := r.(map[string]any); ok && m["Type"] == typ {
			out[name] = m
		}
	}
	return out
}

func (p *tpl) resource(name string) map[string]any {
	p.t.Helper()
	r, ok := get(p.doc, "Resources", name).(map[string]any)
	if !ok {
		p.t.Fatalf("no resource %s", name)
	}
	return r
}

// functionProp returns a function property, falling back to Globals.
func (p *tpl) functionProp(fn map[string]any, prop string) any {
	if v := get(fn, "Properties", prop); v != nil {
		return v
	}
	return get(p.doc, "Globals", "Function", prop)
}

// env returns a function's environment: Globals merged with its own.
func (p *tpl) env(fn map[string]any) map[string]any {
	out := map[string]any{}
	for _, src := range []any{get(p.doc, "Globals", "Function", "Environment", "Variables"), get(fn, "Properties", "Environment", "Variables")} {
		if m, ok := src.(map[string]any); ok {
			for k, v := range m {
				out[k] = v
			}
		}
	}
	return out
}

func num(t *testing.T, v any) int {
	t.Helper()
	switch n := v.(type) {
	case uint64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	case float64:
		return int(n)
	case string:
		i, err := strconv.Atoi(n)
		if err == nil {
			return i
		}
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func TestFunctionsBuildAsProvidedAL2023(t *testing.T) {
	p := load(t)
	fns := p.resources("AWS::Serverless::Function")
	if len(fns) != len(functionDirs) {
		t.Fatalf("functions = %d, want %d", len(fns), len(functionDirs))
	}
	for name, fn := range fns {
		t.Run(name, func(t *testing.T) {
			checks := map[string][2]any{
				"CodeUri":       {p.functionProp(fn, "CodeUri"), "."},
				"Runtime":       {p.functionProp(fn, "Runtime"), "provided.al2023"},
				"Handler":       {p.functionProp(fn, "Handler"), "bootstrap"},
				"Architectures": {p.functionProp(fn, "Architectures"), []any{"arm64"}},
				"BuildMethod":   {get(fn, "Metadata", "BuildMethod"), "makefile"},
				"LogFormat":     {get(fn, "Properties", "LoggingConfig", "LogFormat"), "JSON"},
			}
			for what, c := range checks {
				if !reflect.DeepEqual(c[0], c[1]) {
					t.Errorf("%s = %v, want %v", what, c[0], c[1])
				}
			}
			lg, ok := get(fn, "Properties", "LoggingConfig", "LogGroup", "Ref").(string)
			if !ok || get(p.resource(lg), "Properties", "RetentionInDays") == nil {
				t.Errorf("log group %q missing or without retention", lg)
			}
			if _, err := os.Stat(filepath.Join(p.root, "functions", functionDirs[name], "main.go")); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		})
	}
}

// functionDirs maps each function's logical id to its package under functions/.
var functionDirs = map[string]string{"DispatchFunction": "dispatch", "AnalyzeFunction": "analyze", "MergeFunction": "merge"}

// TestSamMakefileBuild runs what `sam build` runs for a function with BuildMethod
// makefile (aws-lambda-builders' CustomMakeBuilder): copy CodeUri, less .aws-sam and
// .git, to a scratch directory, then in it `make --makefile <CodeUri>/Makefile
// build-<LogicalId>` with ARTIFACTS_DIR set. The artifact must be the bootstrap the
// deployment needs: ELF for the function's architecture, static (no interpreter, no
// dynamic section), stripped, built with CGO_ENABLED=0, -tags lambda.norpc, -trimpath
// and -ldflags "-s -w".
func TestSamMakefileBuild(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("make not found")
		}
		t.Skip("make not found")
	}
	p := load(t)
	scratch := t.TempDir()
	copySource(t, p.root, scratch)
	machines := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "x86_64": elf.EM_X86_64}
	goarch := map[string]string{"arm64": "arm64", "x86_64": "amd64"}
	for name, fn := range p.resources("AWS::Serverless::Function") {
		t.Run(name, func(t *testing.T) {
			arch := fmt.Sprint(get(p.functionProp(fn, "Architectures"), "0"))
			codeURI := fmt.Sprint(p.functionProp(fn, "CodeUri"))
			artifacts := filepath.Join(t.TempDir(), name)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "make", "--makefile", filepath.Join(p.root, codeURI, "Makefile"), "build-"+name)
			cmd.Dir = scratch
			cmd.Env = append(os.Environ(), "ARTIFACTS_DIR="+artifacts)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", name, err, out)
			}
			bin := filepath.Join(artifacts, "bootstrap")
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("bootstrap: %v", err)
			}
			defer f.Close()
			if f.Machine != machines[arch] {
				t.Errorf("bootstrap is for %v, the function runs on %s", f.Machine, arch)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
					t.Errorf("bootstrap is dynamically linked (%v)", prog.Type)
				}
			}
			// -trimpath keeps -ldflags out of the build info: -s and -w show as no
			// symbol table and no DWARF sections.
			if f.Section(".symtab") != nil {
				t.Error("bootstrap keeps its symbol table: not built with -ldflags -s")
			}
			for _, sec := range f.Sections {
				if strings.HasPrefix(sec.Name, ".debug_") || strings.HasPrefix(sec.Name, ".zdebug_") {
					t.Errorf("bootstrap keeps DWARF section %s: not built with -ldflags -w", sec.Name)
					break
				}
			}
			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			want := map[string]string{"CGO_ENABLED": "0", "-tags": "lambda.norpc", "-trimpath": "true",
				"GOOS": "linux", "GOARCH": goarch[arch]}
			for k, v := range want {
				if settings[k] != v {
					t.Errorf("build setting %s = %q, want %q", k, settings[k], v)
				}
			}
			if info.Path != "github.com/examina-dev/examina-serverless/functions/"+functionDirs[name] {
				t.Errorf("bootstrap is %s", info.Path)
			}
			st, _ := os.Stat(bin)
			t.Logf("%s bootstrap: %d bytes", name, st.Size())
		})
	}
}

// copySource copies dir into dst as CopySourceAction does, without .aws-sam and .git.
func copySource(t *testing.T, dir, dst string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() && (d.Name() == ".aws-sam" || d.Name() == ".git" || (rel == "bin" || rel == "out")) {
			return filepath.SkipDir
		}
		if d.Name() == ".git" { // a worktree's .git file
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAnalyzeConcurrencyFollowsBatchSize(t *testing.T) {
	p := load(t)
	if min := num(t, get(p.doc, "Parameters", "BatchSize", "MinValue")); min < 2 {
		t.Errorf("BatchSize MinValue = %d, want >= 2 (MaximumConcurrency's minimum)", min)
	}
	fn := p.resource("AnalyzeFunction")
	ev := get(fn, "Properties", "Events", "AnalyzeQueue", "Properties")
	if got := get(ev, "ScalingConfig", "MaximumConcurrency"); !reflect.DeepEqual(got, ref("BatchSize")) {
		t.Errorf("MaximumConcurrency = %v, want !Ref BatchSize", got)
	}
	if got := get(ev, "FunctionResponseTypes"); !reflect.DeepEqual(got, []any{"ReportBatchItemFailures"}) {
		t.Errorf("FunctionResponseTypes = %v", got)
	}
	wantReserved := map[string]any{"Fn::If": []any{"UseReservedConcurrency", ref("BatchSize"), ref("AWS::NoValue")}}
	if got := get(fn, "Properties", "ReservedConcurrentExecutions"); !reflect.DeepEqual(got, wantReserved) {
		t.Errorf("ReservedConcurrentExecutions = %v, want %v", got, wantReserved)
	}
	if get(p.doc, "Conditions", "UseReservedConcurrency") == nil {
		t.Error("condition UseReservedConcurrency missing")
	}
}

func TestQueueMatchesAnalyzeTimeoutAndHarness(t *testing.T) {
	p := load(t)
	fn := p.resource("AnalyzeFunction")
	timeout := num(t, p.functionProp(fn, "Timeout"))
	queue, ok := get(fn, "Properties", "Events", "AnalyzeQueue", "Properties", "Queue", "Fn::GetAtt", "0").(string)
	if !ok {
		t.Fatal("analyze event source is not !GetAtt <queue>.Arn")
	}
	q := p.resource(queue)
	vis := num(t, get(q, "Properties", "VisibilityTimeout"))
	if vis < 6*timeout {
		t.Errorf("visibility timeout %d < 6 x analyze timeout %d", vis, timeout)
	}
	if vis != mototest.QueueVisibilityTimeout {
		t.Errorf("visibility timeout %d differs from mototest's %d", vis, mototest.QueueVisibilityTimeout)
	}
	receives := num(t, get(q, "Properties", "RedrivePolicy", "maxReceiveCount"))
	if receives != mototest.MaxReceiveCount {
		t.Errorf("maxReceiveCount %d differs from mototest's %d", receives, mototest.MaxReceiveCount)
	}
	if got := p.env(fn)["EXAMINA_MAX_RECEIVES"]; got != strconv.Itoa(receives) {
		t.Errorf("EXAMINA_MAX_RECEIVES = %v, want %d", got, receives)
	}
	dlq, _ := get(q, "Properties", "RedrivePolicy", "deadLetterTargetArn", "Fn::GetAtt", "0").(string)
	if got := num(t, get(p.resource(dlq), "Properties", "MessageRetentionPeriod")); got != mototest.DLQRetentionSeconds {
		t.Errorf("DLQ retention = %d, want %d", got, mototest.DLQRetentionSeconds)
	}
}

func TestEncryptionEverywhere(t *testing.T) {
	p := load(t)
	for name, q := range p.resources("AWS::SQS::Queue") {
		if get(q, "Properties", "SqsManagedSseEnabled") != true && get(q, "Properties", "KmsMasterKeyId") == nil {
			t.Errorf("queue %s is not encrypted", name)
		}
	}
	for name, tb := range p.resources("AWS::DynamoDB::Table") {
		if get(tb, "Properties", "SSESpecification", "SSEEnabled") != true {
			t.Errorf("table %s: SSE not enabled", name)
		}
	}
	buckets := p.resources("AWS::S3::Bucket")
	if len(buckets) != 1 {
		t.Fatalf("buckets = %d, want 1", len(buckets))
	}
	for name, b := range buckets {
		if get(b, "Properties", "BucketEncryption", "ServerSideEncryptionConfiguration", "0", "ServerSideEncryptionByDefault", "SSEAlgorithm") == nil {
			t.Errorf("bucket %s: no default encryption", name)
		}
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if get(b, "Properties", "PublicAccessBlockConfiguration", k) != true {
				t.Errorf("bucket %s: %s is not true", name, k)
			}
		}
	}
}

func TestBucketPolicyDeniesInsecureTransport(t *testing.T) {
	p := load(t)
	for _, bp := range p.resources("AWS::S3::BucketPolicy") {
		if !reflect.DeepEqual(get(bp, "Properties", "Bucket"), ref("Bucket")) {
			continue
		}
		stmts, _ := get(bp, "Properties", "PolicyDocument", "Statement").([]any)
		for _, s := range stmts {
			if get(s, "Effect") == "Deny" && get(s, "Condition", "Bool", "aws:SecureTransport") == "false" &&
				get(s, "Action") == "s3:*" && len(get(s, "Resource").([]any)) == 2 {
				return
			}
		}
	}
	t.Error("no bucket policy denies s3:* on the bucket and its objects without TLS")
}

func TestTableKeysAndTTL(t *testing.T) {
	p := load(t)
	tb := p.resource("Table")
	keys := get(tb, "Properties", "KeySchema")
	want := []any{map[string]any{"AttributeName": "PK", "KeyType": "HASH"}, map[string]any{"AttributeName": "SK", "KeyType": "RANGE"}}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("KeySchema = %v", keys)
	}
	checks := map[string][2]any{
		"billing": {get(tb, "Properties", "BillingMode"), "PAY_PER_REQUEST"},
		"ttl":     {get(tb, "Properties", "TimeToLiveSpecification", "AttributeName"), mototest.TTLAttribute},
		"pitr":    {get(tb, "Properties", "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"), true},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", what, c[0], c[1])
		}
	}
}

// statements yields every inline IAM statement of functions and state machines.
func (p *tpl) statements() map[string][]any {
	out := map[string][]any{}
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::Serverless::StateMachine"} {
		for name, r := range p.resources(typ) {
			pols, _ := get(r, "Properties", "Policies").([]any)
			for _, pol := range pols {
				if branches, ok := get(pol, "Fn::If").([]any); ok && len(branches) == 3 {
					pol = branches[1]
				}
				if s, ok := get(pol, "Statement").([]any); ok {
					out[name] = append(out[name], s...)
				}
			}
		}
	}
	for name, r := range p.resources("AWS::IAM::Policy") {
		s, _ := get(r, "Properties", "PolicyDocument", "Statement").([]any)
		out[name] = append(out[name], s...)
	}
	return out
}

// objectPrefix is an object ARN of the stack's bucket under one named key prefix.
var objectPrefix = regexp.MustCompile(`^arn:\$\{AWS::Partition\}:s3:::examina-\$\{AWS::AccountId\}-\$\{AWS::Region\}-\$\{StackId\}/[a-z]+/\*$`)

// keyPrefixOnly reports whether res is an object ARN of the stack's bucket (its name
// built as BucketName is) under a named key prefix (".../input/*"): the one wildcard
// S3 object grants need.
func (p *tpl) keyPrefixOnly(res any) bool {
	sub, ok := get(res, "Fn::Sub").([]any)
	if !ok || len(sub) != 2 {
		return false
	}
	tmpl, _ := sub[0].(string)
	bucket, _ := get(p.resource("Bucket"), "Properties", "BucketName", "Fn::Sub").([]any)
	return objectPrefix.MatchString(tmpl) && len(bucket) == 2 && reflect.DeepEqual(sub[1], bucket[1])
}

// bedrockScoped reports whether a Bedrock statement's wildcards are the scoped ones:
// foundation models reached only through the configured profile (a condition on
// bedrock:InferenceProfileArn), or the default model's profiles and foundation model.
func bedrockScoped(s any) bool {
	switch get(s, "Sid") {
	case "FoundationModelsThroughTheProfile":
		return get(s, "Condition", "StringEquals", "bedrock:InferenceProfileArn") != nil
	case "InvokeTheDefaultModel":
		for _, r := range get(s, "Resource").([]any) {
			if sub := fmt.Sprint(get(r, "Fn::Sub")); !strings.HasSuffix(sub, "/"+bedrockDefaultBase) && !strings.HasSuffix(sub, "/*."+bedrockDefaultBase) {
				return false
			}
		}
		return true
	}
	return false
}

const bedrockDefaultBase = "anthropic.claude-haiku-4-5-20251001-v1:0"

// iamMatch reports whether arn matches the IAM resource pattern (* any run, ? one).
func iamMatch(pattern, arn string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(arn)
}

// TestBedrockPermissions: the analyze role may call the model the function calls,
// whatever the deployment's region: the default model's inference profile
// (providers.BedrockDefaultModel) and its foundation model in every region the
// profile routes to; a configured model by its profile or foundation model ARN.
func TestBedrockPermissions(t *testing.T) {
	p := load(t)
	var def, conf, through []string
	for _, s := range p.statements()["AnalyzeFunction"] {
		var res []string
		switch r := get(s, "Resource").(type) {
		case []any:
			for _, x := range r {
				res = append(res, fmt.Sprint(get(x, "Fn::Sub")))
			}
		default:
			res = append(res, fmt.Sprint(get(r, "Fn::Sub")))
		}
		switch get(s, "Sid") {
		case "InvokeTheDefaultModel":
			def = res
		case "InvokeTheConfiguredModel":
			conf = res
		case "FoundationModelsThroughTheProfile":
			through = res
		}
	}
	sub := func(pattern, region, model string) string {
		return strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", region, "${AWS::AccountId}", "123456789012", "${Model}", model).Replace(pattern)
	}
	anyMatch := func(patterns []string, region, model, arn string) bool {
		for _, pt := range patterns {
			if iamMatch(sub(pt, region, model), arn) {
				return true
			}
		}
		return false
	}
	if len(def) == 0 || len(conf) == 0 || len(through) == 0 {
		t.Fatalf("Bedrock statements: default %v, configured %v, through profile %v", def, conf, through)
	}
	for _, region := range []string{"us-east-1", "eu-west-1", "eu-south-2", "ap-northeast-1", "ap-southeast-2", "sa-east-1"} {
		model := providers.BedrockDefaultModel(region)
		base, _ := providers.BedrockFoundationModel(model)
		if base != bedrockDefaultBase {
			t.Fatalf("default model %q is not %s: update the template's InvokeTheDefaultModel", model, bedrockDefaultBase)
		}
		if arn := "arn:aws:bedrock:" + region + ":123456789012:inference-profile/" + model; !anyMatch(def, region, "", arn) {
			t.Errorf("%s: the default statement does not grant %s", region, arn)
		}
		for _, routed := range []string{"us-west-2", "eu-central-1", "ap-northeast-3", ""} {
			if arn := "arn:aws:bedrock:" + routed + "::foundation-model/" + base; !anyMatch(def, region, "", arn) {
				t.Errorf("%s: the default statement does not grant %s", region, arn)
			}
		}
		// A configured profile and the foundation models behind it, or a plain model.
		const profile = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
		if arn := "arn:aws:bedrock:" + region + ":123456789012:inference-profile/" + profile; !anyMatch(conf, region, profile, arn) {
			t.Errorf("%s: configured profile %s not granted", region, arn)
		}
		if !anyMatch(through, region, profile, "arn:aws:bedrock:eu-west-3::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0") {
			t.Errorf("%s: foundation models behind the profile not granted", region)
		}
		const plain = "anthropic.claude-3-haiku-20240307-v1:0"
		if !anyMatch(conf, region, plain, "arn:aws:bedrock:"+region+"::foundation-model/"+plain) {
			t.Errorf("%s: configured foundation model not granted", region)
		}
	}
	if got := p.env(p.resource("AnalyzeFunction"))["EXAMINA_MODEL"]; !reflect.DeepEqual(got, ref("Model")) {
		t.Errorf("EXAMINA_MODEL = %v: the function must pick the default itself, from AWS_REGION", got)
	}
}

func TestNoWildcardResources(t *testing.T) {
	p := load(t)
	found := 0
	for owner, stmts := range p.statements() {
		for _, s := range stmts {
			res := fmt.Sprint(get(s, "Resource"))
			if !strings.Contains(res, "*") || p.keyPrefixOnly(get(s, "Resource")) {
				continue
			}
			actions := fmt.Sprint(get(s, "Action"))
			if owner == "AnalyzeFunction" && actions == "[bedrock:InvokeModel]" && bedrockScoped(s) {
				continue // checked by TestBedrockPermissions
			}
			if owner == "AnalyzeFunction" && get(s, "Sid") == "CompleteFanOutTask" && res == "*" &&
				actions == "[states:SendTaskSuccess states:SendTaskFailure]" {
				found++
				continue
			}
			t.Errorf("%s: wildcard resource %s for %s", owner, res, actions)
		}
	}
	if found != 1 {
		t.Errorf("documented SendTask* statement found %d times, want 1", found)
	}
	// Policy templates must name this stack's resources.
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::Serverless::StateMachine"} {
		for name, r := range p.resources(typ) {
			pols, _ := get(r, "Properties", "Policies").([]any)
			for _, pol := range pols {
				if s, ok := pol.(string); ok {
					t.Errorf("%s: managed policy %s (use a scoped policy template)", name, s)
				}
			}
		}
	}
}

func TestPrefixesDoNotOverlap(t *testing.T) {
	p := load(t)
	fn := p.resource("DispatchFunction")
	env := p.env(fn)
	results, _ := env["RESULTS_PREFIX"].(string)
	input, _ := env["INPUT_PREFIX"].(string)
	if results != mototest.ResultsPrefix || input != mototest.InputPrefix {
		t.Errorf("prefixes input=%q results=%q differ from mototest's", input, results)
	}
	var suffixes []string
	for name, ev := range get(fn, "Properties", "Events").(map[string]any) {
		if get(ev, "Type") != "S3" {
			continue
		}
		rules := map[string]string{}
		for _, r := range get(ev, "Properties", "Filter", "S3Key", "Rules").([]any) {
			rules[fmt.Sprint(get(r, "Name"))] = fmt.Sprint(get(r, "Value"))
		}
		prefix := rules["prefix"]
		if prefix == "" || strings.HasPrefix(results, prefix) || strings.HasPrefix(prefix, results) {
			t.Errorf("S3 event %s prefix %q overlaps results prefix %q", name, prefix, results)
		}
		if prefix != input {
			t.Errorf("S3 event %s prefix %q, want INPUT_PREFIX %q", name, prefix, input)
		}
		suffixes = append(suffixes, rules["suffix"])
	}
	sort.Strings(suffixes)
	if !slices.Equal(suffixes, []string{".json", ".jsonl"}) {
		t.Errorf("S3 event suffixes = %v, want .json and .jsonl", suffixes)
	}
}

// eval evaluates the intrinsic functions names are built with (Ref of a pseudo
// parameter, Fn::Sub, Fn::Select, Fn::Split) against the given pseudo parameters.
func eval(t *testing.T, v any, pseudo map[string]string) any {
	t.Helper()
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		switch {
		case x["Ref"] != nil:
			r, ok := pseudo[fmt.Sprint(x["Ref"])]
			if !ok {
				t.Fatalf("Ref %v is not a pseudo parameter", x["Ref"])
			}
			return r
		case x["Fn::Split"] != nil:
			args := x["Fn::Split"].([]any)
			parts := strings.Split(eval(t, args[1], pseudo).(string), fmt.Sprint(args[0]))
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out
		case x["Fn::Select"] != nil:
			args := x["Fn::Select"].([]any)
			list := eval(t, args[1], pseudo).([]any)
			return list[num(t, args[0])]
		case x["Fn::Sub"] != nil:
			tmpl, vars := "", map[string]string{}
			switch a := x["Fn::Sub"].(type) {
			case string:
				tmpl = a
			case []any:
				tmpl = a[0].(string)
				for k, e := range a[1].(map[string]any) {
					vars[k] = eval(t, e, pseudo).(string)
				}
			}
			return regexp.MustCompile(`\$\{([A-Za-z0-9:]+)\}`).ReplaceAllStringFunc(tmpl, func(m string) string {
				name := m[2 : len(m)-1]
				if v, ok := vars[name]; ok {
					return v
				}
				if v, ok := pseudo[name]; ok {
					return v
				}
				t.Fatalf("Fn::Sub %q: %s is not a variable or pseudo parameter", tmpl, name)
				return ""
			})
		}
	}
	t.Fatalf("cannot evaluate %v", v)
	return nil
}

var bucketNameRule = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// TestNamesBuiltNotReferenced: the bucket's and the state machine's names are built
// (functions name them without a dependency cycle) the same way everywhere, and stay
// valid for any stack name: upper case, 128 characters, the longest regions.
func TestNamesBuiltNotReferenced(t *testing.T) {
	p := load(t)
	bucket := get(p.resource("Bucket"), "Properties", "BucketName")
	if got := get(p.doc, "Globals", "Function", "Environment", "Variables", "BUCKET_NAME"); !reflect.DeepEqual(got, bucket) {
		t.Errorf("BUCKET_NAME = %v, want the bucket's name %v", got, bucket)
	}
	sm := get(p.resource("AnalysisStateMachine"), "Properties", "Name")
	arn := get(p.env(p.resource("DispatchFunction")), "STATE_MACHINE_ARN")
	for _, stack := range []string{"examina-serverless", "Examina-PROD", "A" + strings.Repeat("b-C", 42) + "x"} {
		for _, region := range []string{"us-east-1", "ap-southeast-5", "us-gov-west-1", "cn-northwest-1"} {
			pseudo := map[string]string{"AWS::StackName": stack, "AWS::Region": region, "AWS::AccountId": "123456789012",
				"AWS::Partition": "aws", "AWS::StackId": "arn:aws:cloudformation:" + region + ":123456789012:stack/" + stack + "/51af3dc0-da77-11e4-872e-1234567db123"}
			name := eval(t, bucket, pseudo).(string)
			if !bucketNameRule.MatchString(name) || strings.Contains(name, "..") {
				t.Errorf("stack %q in %s: bucket name %q (%d characters) breaks S3's rules", stack, region, name, len(name))
			}
			smName := eval(t, sm, pseudo).(string)
			if len(smName) > 80 || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(smName) {
				t.Errorf("stack %q: state machine name %q (%d characters) breaks Step Functions' rules", stack, smName, len(smName))
			}
			if got := eval(t, arn, pseudo).(string); got != "arn:aws:states:"+region+":123456789012:stateMachine:"+smName {
				t.Errorf("STATE_MACHINE_ARN %q does not name the state machine %q", got, smName)
			}
		}
	}
	// Two stacks get two buckets (S3 names are global).
	a := map[string]string{"AWS::Region": "us-east-1", "AWS::AccountId": "1", "AWS::StackId": "arn:aws:cloudformation:us-east-1:1:stack/x/51af3dc0-da77-11e4-872e-1234567db123"}
	b := map[string]string{"AWS::Region": "us-east-1", "AWS::AccountId": "1", "AWS::StackId": "arn:aws:cloudformation:us-east-1:1:stack/x/0c1d2e3f-da77-11e4-872e-abcdef012345"}
	if eval(t, bucket, a) == eval(t, bucket, b) {
		t.Error("the bucket name does not depend on the stack id")
	}
}

// TestDeployableAgain: a failed first deploy rolls back without leaving the named
// bucket behind (the next create would fail on it); no ARN hard-codes a partition.
func TestDeployableAgain(t *testing.T) {
	p := load(t)
	if got := p.resource("Bucket")["DeletionPolicy"]; got != "RetainExceptOnCreate" {
		t.Errorf("bucket DeletionPolicy = %v, want RetainExceptOnCreate", got)
	}
	for name, r := range p.doc["Resources"].(map[string]any) {
		if get(r, "DeletionPolicy") == "Retain" {
			t.Errorf("%s: DeletionPolicy Retain, want RetainExceptOnCreate", name)
		}
	}
	for _, file := range []string{"template.yaml", mototest.StateMachinePath} {
		data, err := os.ReadFile(filepath.Join(p.root, file))
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(string(data), "arn:aws:"); i >= 0 {
			t.Errorf("%s hard-codes the aws partition: %.60s", file, data[i:])
		}
	}
	sam, err := os.ReadFile(filepath.Join(p.root, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*cached\s*=\s*true`).Match(sam) {
		t.Error("samconfig.toml: cached = true deploys stale binaries (the cache hashes CodeUri only)")
	}
}

func TestStateMachineSubstitutions(t *testing.T) {
	p := load(t)
	sm := p.resource("AnalysisStateMachine")
	if get(sm, "Properties", "Type") != "STANDARD" || get(sm, "Properties", "DefinitionUri") != mototest.StateMachinePath {
		t.Errorf("state machine = %v", get(sm, "Properties"))
	}
	var got []string
	for k := range get(sm, "Properties", "DefinitionSubstitutions").(map[string]any) {
		got = append(got, k)
	}
	want := statemachine.Substitutions()
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("DefinitionSubstitutions = %v, want %v", got, want)
	}
}

func TestHTTPAPIRequiresIAM(t *testing.T) {
	p := load(t)
	api := p.resource("HttpApi")
	if get(api, "Properties", "Auth", "DefaultAuthorizer") != "AWS_IAM" || get(api, "Properties", "Auth", "EnableIamAuthorizer") != true {
		t.Errorf("HttpApi auth = %v", get(api, "Properties", "Auth"))
	}
	routes := map[string]bool{}
	for name, ev := range get(p.resource("DispatchFunction"), "Properties", "Events").(map[string]any) {
		if get(ev, "Type") != "HttpApi" {
			continue
		}
		if a := get(ev, "Properties", "Auth"); a != nil {
			t.Errorf("route %s overrides the API's IAM auth: %v", name, a)
		}
		routes[fmt.Sprint(get(ev, "Properties", "Method"), " ", get(ev, "Properties", "Path"))] = true
	}
	for _, r := range []string{"POST /courses/{course}/analyses", "GET /analyses/{job}", "POST /courses/{course}/uploads", "GET /analyses/{job}/report"} {
		if !routes[r] {
			t.Errorf("route %s missing", r)
		}
	}
}

func TestNoSecretsInEnvironment(t *testing.T) {
	p := load(t)
	for name, fn := range p.resources("AWS::Serverless::Function") {
		for k, v := range p.env(fn) {
			upper := strings.ToUpper(k)
			if !(strings.Contains(upper, "KEY") || strings.Contains(upper, "SECRET") ||
				strings.Contains(upper, "TOKEN") || strings.Contains(upper, "PASSWORD")) {
				continue
			}
			// Only where the key is kept may be configured, never the key itself.
			refs := fmt.Sprint(v)
			ok := (k == "EXAMINA_API_KEY_PARAMETER" && strings.Contains(refs, "ApiKeyParameter")) ||
				(k == "EXAMINA_API_KEY_SECRET" && strings.Contains(refs, "ApiKeySecretArn"))
			if !ok {
				t.Errorf("%s: environment variable %s = %v may carry a secret", name, k, v)
			}
		}
	}
	for name, param := range get(p.doc, "Parameters").(map[string]any) {
		if get(param, "NoEcho") == true {
			t.Errorf("parameter %s is NoEcho: secrets belong in SSM or Secrets Manager", name)
		}
	}
}

func TestContractEnvironment(t *testing.T) {
	p := load(t)
	common := []string{"TABLE_NAME", "QUEUE_URL", "BUCKET_NAME", "INPUT_PREFIX", "RESULTS_PREFIX", "EXAMINA_PROVIDER",
		"EXAMINA_MODEL", "EXAMINA_BATCH_SIZE", "EXAMINA_MIN_CONFIDENCE", "EXAMINA_API_KEY_PARAMETER",
		"EXAMINA_API_KEY_SECRET", "EXAMINA_MAX_RECEIVES", "LOG_LEVEL"}
	for name, fn := range p.resources("AWS::Serverless::Function") {
		env := p.env(fn)
		for _, k := range common {
			if _, ok := env[k]; !ok {
				t.Errorf("%s: %s missing", name, k)
			}
		}
		_, hasARN := env["STATE_MACHINE_ARN"]
		if hasARN != (name == "DispatchFunction") {
			t.Errorf("%s: STATE_MACHINE_ARN present = %v", name, hasARN)
		}
	}
}

func TestCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		msg := "cfn-lint not found: pip install cfn-lint"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	p := load(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lint, "template.yaml")
	cmd.Dir = p.root
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

// TestNumericSubstitutionsAreIntegers: the state machine reads FanOutTimeoutSeconds,
// CheckIntervalSeconds and MaxChecksWithoutProgress as integers (TimeoutSecondsPath,
// SecondsPath): each is a literal whole number or a String parameter whose pattern
// admits only whole numbers (a Number parameter accepts 60.5).
func TestNumericSubstitutionsAreIntegers(t *testing.T) {
	p := load(t)
	subs := get(p.resource("AnalysisStateMachine"), "Properties", "DefinitionSubstitutions").(map[string]any)
	whole := regexp.MustCompile(`^[0-9]+$`)
	for _, name := range []string{"FanOutTimeoutSeconds", "CheckIntervalSeconds", "MaxChecksWithoutProgress"} {
		v := subs[name]
		if s, ok := v.(string); ok {
			if !whole.MatchString(s) {
				t.Errorf("%s = %q, not a whole number", name, s)
			}
			continue
		}
		param, _ := get(v, "Ref").(string)
		checkIntegerParameter(t, p, param)
	}
	// FanOutSecondsPerExercise reaches dispatch as an environment variable it parses
	// as an integer.
	if got := p.env(p.resource("DispatchFunction"))["EXAMINA_FANOUT_SECONDS_PER_EXERCISE"]; !reflect.DeepEqual(got, ref("FanOutSecondsPerExercise")) {
		t.Errorf("EXAMINA_FANOUT_SECONDS_PER_EXERCISE = %v", got)
	}
	checkIntegerParameter(t, p, "FanOutSecondsPerExercise")
}

func checkIntegerParameter(t *testing.T, p *tpl, name string) {
	t.Helper()
	param, ok := get(p.doc, "Parameters", name).(map[string]any)
	if !ok {
		t.Errorf("parameter %q missing", name)
		return
	}
	pat, _ := param["AllowedPattern"].(string)
	if param["Type"] != "String" || pat == "" {
		t.Errorf("%s: Type %v, AllowedPattern %q; want a String with an integer-only pattern", name, param["Type"], pat)
		return
	}
	re := regexp.MustCompile(pat)
	for _, bad := range []string{"60.5", "1e3", "-1", "", " 60", "abc", "0x10"} {
		if re.MatchString(bad) {
			t.Errorf("%s: pattern %s admits %q", name, pat, bad)
		}
	}
	if def := fmt.Sprint(param["Default"]); !re.MatchString(def) || !regexp.MustCompile(`^[0-9]+$`).MatchString(def) {
		t.Errorf("%s: Default %q", name, def)
	}
}

// TestFunctionMemoryLimits: every function sets GOMEMLIMIT to 90% of its memory, so
// the Go GC works harder before Lambda kills the function; dispatch has the memory
// TestFanOutFiveThousandExercises (shared/cloud) sized it for.
func TestFunctionMemoryLimits(t *testing.T) {
	p := load(t)
	for name, fn := range p.resources("AWS::Serverless::Function") {
		mem := num(t, p.functionProp(fn, "MemorySize"))
		want := fmt.Sprintf("%dMiB", mem*9/10)
		if got := p.env(fn)["GOMEMLIMIT"]; got != want {
			t.Errorf("%s (%d MB): GOMEMLIMIT = %v, want %s", name, mem, got, want)
		}
	}
	if mem := num(t, p.functionProp(p.resource("DispatchFunction"), "MemorySize")); mem != 512 {
		t.Errorf("DispatchFunction MemorySize = %d: update dispatchMemoryMiB in shared/cloud/bigjob_test.go", mem)
	}
}

// TestDispatchFailuresAreKept: S3 invokes dispatch asynchronously; an event whose
// dispatch fails every attempt goes to a failure destination (an encrypted queue that
// keeps it 14 days), and a disabled event source mapping on that queue replays it.
func TestDispatchFailuresAreKept(t *testing.T) {
	p := load(t)
	fn := p.resource("DispatchFunction")
	cfg := get(fn, "Properties", "EventInvokeConfig")
	dest, _ := get(cfg, "DestinationConfig", "OnFailure", "Destination", "Fn::GetAtt", "0").(string)
	if get(cfg, "DestinationConfig", "OnFailure", "Type") != "SQS" || dest == "" {
		t.Fatalf("EventInvokeConfig = %v, want an SQS failure destination", cfg)
	}
	q := p.resource(dest)
	if get(q, "Type") != "AWS::SQS::Queue" || num(t, get(q, "Properties", "MessageRetentionPeriod")) != 1209600 ||
		num(t, get(q, "Properties", "VisibilityTimeout")) < 6*num(t, p.functionProp(fn, "Timeout")) {
		t.Errorf("failure destination %s = %v", dest, get(q, "Properties"))
	}
	replay := get(fn, "Properties", "Events", "ReplayFailedUploads", "Properties")
	if get(replay, "Queue", "Fn::GetAtt", "0") != dest || get(replay, "Enabled") != false ||
		!reflect.DeepEqual(get(replay, "FunctionResponseTypes"), []any{"ReportBatchItemFailures"}) {
		t.Errorf("replay mapping = %v, want a disabled SQS event on %s reporting item failures", replay, dest)
	}
	if get(p.doc, "Outputs", "DispatchReplayMapping", "Value") == nil {
		t.Error("no output names the replay mapping")
	}
}

// TestLeastPrivilege: each role gets the actions its code calls, no more
// (docs/ARCHITECTURE.md "Permissions" lists the calls), on this stack's table, queue
// and key prefixes; no broad policy template (DynamoDBCrudPolicy grants Scan and
// DeleteItem, S3CrudPolicy every object).
func TestLeastPrivilege(t *testing.T) {
	p := load(t)
	want := map[string]map[string][]string{
		"DispatchFunction": {
			"JobStore":            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"},
			"ReadCourseFiles":     {"s3:GetObject", "s3:GetObjectVersion"},
			"ReadResults":         {"s3:GetObject"},
			"PresignUploads":      {"s3:PutObject"},
			"SendAnalyzeMessages": {"sqs:SendMessage"},
		},
		"AnalyzeFunction": {
			"JobStore":                          {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"},
			"DecryptTheApiKey":                  {"kms:Decrypt"},
			"CompleteFanOutTask":                {"states:SendTaskSuccess", "states:SendTaskFailure"},
			"RequeueOwnMessages":                {"sqs:SendMessage", "sqs:ChangeMessageVisibility"},
			"InvokeTheConfiguredModel":          {"bedrock:InvokeModel"},
			"FoundationModelsThroughTheProfile": {"bedrock:InvokeModel"},
			"InvokeTheDefaultModel":             {"bedrock:InvokeModel"},
		},
		"MergeFunction": {
			"JobStore":     {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem"},
			"WriteResults": {"s3:PutObject"},
		},
		"AnalysisStateMachine": {"JobItem": {"dynamodb:GetItem", "dynamodb:UpdateItem"}},
	}
	prefixes := map[string]string{"ReadCourseFiles": "/input/*", "PresignUploads": "/input/*", "ReadResults": "/results/*", "WriteResults": "/results/*"}
	got := p.statements()
	for owner, sids := range want {
		seen := map[string]bool{}
		for _, s := range got[owner] {
			sid := fmt.Sprint(get(s, "Sid"))
			seen[sid] = true
			w, ok := sids[sid]
			if !ok {
				t.Errorf("%s: statement %s is not in the list of what the code calls", owner, sid)
				continue
			}
			var actions []string
			for _, a := range get(s, "Action").([]any) {
				actions = append(actions, fmt.Sprint(a))
			}
			if !slices.Equal(actions, w) {
				t.Errorf("%s %s: actions %v, want %v", owner, sid, actions, w)
			}
			res := get(s, "Resource")
			switch {
			case strings.HasPrefix(w[0], "dynamodb:"):
				if !reflect.DeepEqual(res, map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}) {
					t.Errorf("%s %s: resource %v, want the table only (no indexes)", owner, sid, res)
				}
			case strings.HasPrefix(w[0], "s3:"):
				tmpl, _ := get(res, "Fn::Sub", "0").(string)
				if !p.keyPrefixOnly(res) || !strings.HasSuffix(tmpl, prefixes[sid]) {
					t.Errorf("%s %s: resource %v, want the bucket's %s", owner, sid, res, prefixes[sid])
				}
			case w[0] == "kms:Decrypt":
				if !reflect.DeepEqual(res, ref("ApiKeyKmsKeyArn")) || get(s, "Condition", "StringEquals", "kms:ViaService") == nil {
					t.Errorf("%s %s: resource %v, want the ApiKeyKmsKeyArn key via SSM/Secrets Manager", owner, sid, res)
				}
			}
		}
		for sid := range sids {
			if !seen[sid] {
				t.Errorf("%s: statement %s missing", owner, sid)
			}
		}
	}
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::Serverless::StateMachine"} {
		for name, r := range p.resources(typ) {
			pols, _ := get(r, "Properties", "Policies").([]any)
			for _, pol := range pols {
				if branches, ok := get(pol, "Fn::If").([]any); ok {
					pol = branches[1]
				}
				m, _ := pol.(map[string]any)
				for k := range m {
					switch k {
					case "Statement", "LambdaInvokePolicy", "StepFunctionsExecutionPolicy", "SSMParameterReadPolicy", "AWSSecretsManagerGetSecretValuePolicy":
					default:
						t.Errorf("%s: policy template %s grants more than the code calls", name, k)
					}
				}
			}
		}
	}
}

// TestOllamaNeedsBaseUrl: the template's rule refuses Provider=ollama without
// BaseUrl at deploy time (Lambda has no Ollama on 127.0.0.1), and only that.
func TestOllamaNeedsBaseUrl(t *testing.T) {
	p := load(t)
	rules, _ := get(p.doc, "Rules").(map[string]any)
	var evalCond func(v any, params map[string]string) bool
	val := func(v any, params map[string]string) string {
		if r, ok := get(v, "Ref").(string); ok {
			return params[r]
		}
		return fmt.Sprint(v)
	}
	evalCond = func(v any, params map[string]string) bool {
		switch {
		case get(v, "Fn::Equals") != nil:
			a := get(v, "Fn::Equals").([]any)
			return val(a[0], params) == val(a[1], params)
		case get(v, "Fn::Not") != nil:
			return !evalCond(get(v, "Fn::Not", "0"), params)
		}
		t.Fatalf("unsupported rule function %v", v)
		return false
	}
	deployable := func(params map[string]string) bool {
		for _, r := range rules {
			if c := get(r, "RuleCondition"); c != nil && !evalCond(c, params) {
				continue
			}
			for _, a := range get(r, "Assertions").([]any) {
				if !evalCond(get(a, "Assert"), params) {
					return false
				}
			}
		}
		return true
	}
	tests := []struct {
		provider, baseURL string
		ok                bool
	}{
		{"ollama", "", false}, {"ollama", "http://10.0.0.5:11434", true}, {"offline", "", true}, {"openai", "", true},
	}
	for _, tt := range tests {
		if got := deployable(map[string]string{"Provider": tt.provider, "BaseUrl": tt.baseURL}); got != tt.ok {
			t.Errorf("Provider=%s BaseUrl=%q: deployable %v, want %v", tt.provider, tt.baseURL, got, tt.ok)
		}
	}
	if got := p.env(p.resource("AnalyzeFunction"))["EXAMINA_BASE_URL"]; !reflect.DeepEqual(got, ref("BaseUrl")) {
		t.Errorf("EXAMINA_BASE_URL = %v, want !Ref BaseUrl", got)
	}
}

// TestDocsMatchCode: what the docs say about the code holds: the error names
// ARCHITECTURE.md says the state machine matches are in its ErrorEquals, and README's
// --timeout default is the providers' default.
func TestDocsMatchCode(t *testing.T) {
	p := load(t)
	arch, err := os.ReadFile(filepath.Join(p.root, "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	asl := string(statemachine.Definition())
	for _, m := range regexp.MustCompile("`([A-Z][A-Za-z]+Error)`").FindAllStringSubmatch(string(arch), -1) {
		if !strings.Contains(asl, `"`+m[1]+`"`) {
			t.Errorf("docs/ARCHITECTURE.md names %s, which the state machine never matches", m[1])
		}
	}
	readme, err := os.ReadFile(filepath.Join(p.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := providers.Config{Name: providers.Offline}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `--timeout` \\|[^|]*\\| ([^|]+) \\|").FindSubmatch(readme)
	if row == nil {
		t.Fatal("README has no --timeout row")
	}
	if d, err := time.ParseDuration(strings.TrimSpace(string(row[1]))); err != nil || d != cfg.Timeout {
		t.Errorf("README's --timeout default %q, the code's %s", row[1], cfg.Timeout)
	}
}
