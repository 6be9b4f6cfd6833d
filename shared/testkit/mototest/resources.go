package mototest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Properties shared with template.yaml; shared/template's test checks that the
// template declares the same values.
const (
	// TTLAttribute is the table's time-to-live attribute (epoch seconds).
	TTLAttribute = "expires_at"
	// MaxReceiveCount is the analyze queue's redrive maxReceiveCount.
	MaxReceiveCount = 3
	// QueueVisibilityTimeout is the analyze queue's visibility timeout in seconds.
	QueueVisibilityTimeout = 900
	// DLQRetentionSeconds is how long the dead-letter queue keeps messages (14 days).
	DLQRetentionSeconds = 1209600
	// InputPrefix is the S3 prefix that triggers dispatch.
	InputPrefix = "input/"
	// ResultsPrefix is the S3 prefix results are written under.
	ResultsPrefix = "results/"
	// StateMachinePath is the state machine definition, relative to the repository root.
	StateMachinePath = "statemachine/analysis.asl.json"
)

// Stack names the resources Provision created, as the Lambdas see them.
type Stack struct {
	TableName           string
	BucketName          string
	QueueURL            string
	QueueARN            string
	DLQURL              string
	DLQARN              string
	DispatchFunctionArn string // a Lambda stub answering with QueueLambdaResponse's payloads
	MergeFunctionArn    string // a Lambda stub answering with QueueLambdaResponse's payloads
	StateMachineArn     string // empty when Provision was given no definition
}

// LambdaEnv returns the Lambdas' environment variables (docs: the cloud contract)
// for this stack, in os.Environ form, without the AWS SDK ones (see Server.Env).
func (st *Stack) LambdaEnv() []string {
	return []string{
		"TABLE_NAME=" + st.TableName,
		"QUEUE_URL=" + st.QueueURL,
		"BUCKET_NAME=" + st.BucketName,
		"STATE_MACHINE_ARN=" + st.StateMachineArn,
		"INPUT_PREFIX=" + InputPrefix,
		"RESULTS_PREFIX=" + ResultsPrefix,
		"EXAMINA_MAX_RECEIVES=" + strconv.Itoa(MaxReceiveCount),
	}
}

// ProvisionOptions says what Provision creates. Empty names get defaults.
type ProvisionOptions struct {
	Prefix string // resource name prefix; default "examina"
	// Definition is the state machine's ASL; nil means no state machine.
	// Substitutions DispatchFunctionArn, MergeFunctionArn and TableName are
	// filled from the stack; Substitutions adds or overrides the others.
	Definition    []byte
	Substitutions map[string]string
}

// DefaultSubstitutions are the state machine's other DefinitionSubstitutions
// with values suited to tests: a short fan-out timeout and a one-second check interval.
var DefaultSubstitutions = map[string]string{
	"Partition":                "aws",
	"FanOutTimeoutSeconds":     "30",
	"CheckIntervalSeconds":     "1",
	"MaxChecksWithoutProgress": "120",
}

// Provision creates the table, queue and DLQ, bucket, the dispatch and merge
// Lambda stubs and, when opts.Definition is set, the state machine.
func (s *Server) Provision(ctx context.Context, opts ProvisionOptions) (*Stack, error) {
	p := opts.Prefix
	if p == "" {
		p = "examina"
	}
	st := &Stack{TableName: p + "-table", BucketName: p + "-bucket"}
	var err error
	if err = s.CreateTable(ctx, st.TableName); err != nil {
		return nil, err
	}
	q, err := s.CreateQueues(ctx, p+"-analyze")
	if err != nil {
		return nil, err
	}
	st.QueueURL, st.QueueARN, st.DLQURL, st.DLQARN = q.URL, q.ARN, q.DLQURL, q.DLQARN
	if err = s.CreateBucket(ctx, st.BucketName); err != nil {
		return nil, err
	}
	if st.DispatchFunctionArn, err = s.CreateLambdaStub(ctx, p+"-dispatch"); err != nil {
		return nil, err
	}
	if st.MergeFunctionArn, err = s.CreateLambdaStub(ctx, p+"-merge"); err != nil {
		return nil, err
	}
	if opts.Definition == nil {
		return st, nil
	}
	subs := map[string]string{
		"DispatchFunctionArn": st.DispatchFunctionArn,
		"MergeFunctionArn":    st.MergeFunctionArn,
		"TableName":           st.TableName,
	}
	for k, v := range DefaultSubstitutions {
		subs[k] = v
	}
	for k, v := range opts.Substitutions {
		subs[k] = v
	}
	if st.StateMachineArn, err = s.CreateStateMachine(ctx, p+"-analysis", opts.Definition, subs); err != nil {
		return nil, err
	}
	return st, nil
}

// CreateTable creates the project's single table: on-demand, string keys PK/SK,
// server-side encryption, TTL on expires_at and point-in-time recovery.
func (s *Server) CreateTable(ctx context.Context, name string) error {
	db := dynamodb.NewFromConfig(s.AWSConfig(ctx))
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: dbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dbtypes.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: dbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: dbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []dbtypes.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: dbtypes.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: dbtypes.KeyTypeRange},
		},
		SSESpecification: &dbtypes.SSESpecification{Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("mototest: creating table %s: %w", name, err)
	}
	if _, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &dbtypes.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute), Enabled: aws.Bool(true),
		},
	}); err != nil {
		return fmt.Errorf("mototest: enabling TTL on %s: %w", name, err)
	}
	if _, err = db.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
		TableName: aws.String(name),
		PointInTimeRecoverySpecification: &dbtypes.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: aws.Bool(true),
		},
	}); err != nil {
		return fmt.Errorf("mototest: enabling PITR on %s: %w", name, err)
	}
	return nil
}

// Queues names an analyze queue and its dead-letter queue.
type Queues struct {
	URL, ARN       string
	DLQURL, DLQARN string
}

// CreateQueues creates the queue name and its DLQ name+"-dlq", both with
// SQS-managed encryption; the queue has the template's visibility timeout and
// redrives to the DLQ after MaxReceiveCount receives.
func (s *Server) CreateQueues(ctx context.Context, name string) (Queues, error) {
	c := sqs.NewFromConfig(s.AWSConfig(ctx))
	var q Queues
	var err error
	if q.DLQURL, q.DLQARN, err = createQueue(ctx, c, name+"-dlq", map[string]string{
		"SqsManagedSseEnabled":   "true",
		"MessageRetentionPeriod": strconv.Itoa(DLQRetentionSeconds),
	}); err != nil {
		return Queues{}, err
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": q.DLQARN, "maxReceiveCount": MaxReceiveCount})
	if q.URL, q.ARN, err = createQueue(ctx, c, name, map[string]string{
		"SqsManagedSseEnabled": "true",
		"VisibilityTimeout":    strconv.Itoa(QueueVisibilityTimeout),
		"RedrivePolicy":        string(redrive),
	}); err != nil {
		return Queues{}, err
	}
	return q, nil
}

func createQueue(ctx context.Context, c *sqs.Client, name string, attrs map[string]string) (queueURL, arn string, err error) {
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("mototest: creating queue %s: %w", name, err)
	}
	got, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("mototest: reading queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// CreateBucket creates a bucket with public access blocked and SSE-S3 encryption.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	c := s3.NewFromConfig(s.AWSConfig(ctx))
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("mototest: creating bucket %s: %w", name, err)
	}
	if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
		Bucket: aws.String(name),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true),
			IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		},
	}); err != nil {
		return fmt.Errorf("mototest: blocking public access on %s: %w", name, err)
	}
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
		Bucket: aws.String(name),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
			Rules: []s3types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
					SSEAlgorithm: s3types.ServerSideEncryptionAes256,
				},
			}},
		},
	}); err != nil {
		return fmt.Errorf("mototest: encrypting %s: %w", name, err)
	}
	return nil
}

// CreateLambdaStub creates a function in moto's docker-free Lambda backend and
// returns its ARN. Invoking it returns the payloads queued with
// QueueLambdaResponse, oldest first, then echoes the request payload.
func (s *Server) CreateLambdaStub(ctx context.Context, name string) (string, error) {
	role, err := s.ensureLambdaRole(ctx)
	if err != nil {
		return "", err
	}
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, err := zw.Create("bootstrap")
	if err != nil {
		return "", fmt.Errorf("mototest: zipping stub: %w", err)
	}
	_, _ = w.Write([]byte("#!/bin/sh\n"))
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("mototest: zipping stub: %w", err)
	}
	body, _ := json.Marshal(map[string]any{
		"FunctionName":  name,
		"Runtime":       "provided.al2023",
		"Handler":       "bootstrap",
		"Role":          role,
		"Architectures": []string{"arm64"},
		"Code":          map[string]any{"ZipFile": zipped.Bytes()},
	})
	out, err := s.rawAWS(ctx, "lambda", http.MethodPost, "/2015-03-31/functions", "application/json", body)
	if err != nil {
		return "", fmt.Errorf("mototest: creating function %s: %w", name, err)
	}
	var fn struct{ FunctionArn string }
	if err := json.Unmarshal(out, &fn); err != nil || fn.FunctionArn == "" {
		return "", fmt.Errorf("mototest: creating function %s: unexpected answer %q", name, out)
	}
	return fn.FunctionArn, nil
}

const lambdaRoleName = "examina-lambda-stub"

func (s *Server) ensureLambdaRole(ctx context.Context) (string, error) {
	arn := "arn:aws:iam::" + AccountID + ":role/" + lambdaRoleName
	form := url.Values{
		"Action":   {"CreateRole"},
		"Version":  {"2010-05-08"},
		"RoleName": {lambdaRoleName},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
	}
	_, err := s.rawAWS(ctx, "iam", http.MethodPost, "/", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil && !strings.Contains(err.Error(), "EntityAlreadyExists") {
		return "", fmt.Errorf("mototest: creating role: %w", err)
	}
	return arn, nil
}

// QueueLambdaResponse queues payloads for moto's Lambda stub: each later
// invocation of any stub function returns the next one. A payload shaped like
// a Lambda runtime error ({"errorType": ..., "errorMessage": ...}) is answered
// as a function error (X-Amz-Function-Error: Unhandled), so Step Functions'
// Retry and Catch match its errorType.
func (s *Server) QueueLambdaResponse(ctx context.Context, payloads ...string) error {
	body, _ := json.Marshal(map[string]any{"account_id": AccountID, "region": Region, "results": payloads})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/moto-api/static/lambda-simple/response", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("mototest: queueing lambda response: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("mototest: queueing lambda response: %s: %s", resp.Status, msg)
	}
	return nil
}

var substitution = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Substitute fills the ${Name} DefinitionSubstitutions of an ASL definition, as
// CloudFormation does, and fails when one is left without a value.
func Substitute(definition []byte, subs map[string]string) ([]byte, error) {
	var missing []string
	out := substitution.ReplaceAllFunc(definition, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := subs[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("mototest: no value for definition substitutions %v", missing)
	}
	return out, nil
}

// CreateStateMachine creates a Standard state machine from an ASL definition
// after filling its substitutions, and returns its ARN.
func (s *Server) CreateStateMachine(ctx context.Context, name string, definition []byte, subs map[string]string) (string, error) {
	def, err := Substitute(definition, subs)
	if err != nil {
		return "", err
	}
	if !json.Valid(def) {
		return "", errors.New("mototest: state machine definition is not JSON after substitution")
	}
	out, err := sfn.NewFromConfig(s.AWSConfig(ctx)).CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(name),
		Definition: aws.String(string(def)),
		RoleArn:    aws.String("arn:aws:iam::" + AccountID + ":role/examina-state-machine"),
		Type:       sfntypes.StateMachineTypeStandard,
	})
	if err != nil {
		return "", fmt.Errorf("mototest: creating state machine %s: %w", name, err)
	}
	return aws.ToString(out.StateMachineArn), nil
}

// rawAWS sends an unsigned request for an API the project has no SDK module for
// (Lambda, IAM). moto routes by the credential scope and checks no signature.
func (s *Server) rawAWS(ctx context.Context, service, method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/"+Region+"/"+service+
		"/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, out)
	}
	return out, nil
}

// RepoRoot returns the repository root: the nearest directory at or above the
// working directory holding go.mod.
func RepoRoot() (string, error) { return lambdarie.RepoRoot() }

// StateMachineDefinition reads the repository's statemachine/analysis.asl.json.
func StateMachineDefinition() ([]byte, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(root, StateMachinePath))
}
