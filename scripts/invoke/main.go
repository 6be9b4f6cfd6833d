// Command invoke runs one of the project's Lambda functions locally, as
// `sam local invoke <Function> -e <event>` does in its container: it builds the
// function's bootstrap for this machine, starts a private moto_server with the
// stack's table, queues, bucket and state machine, runs the bootstrap under
// aws-lambda-rie with the template's environment pointed at moto, invokes it with
// the event file and prints the response.
//
//	go run ./scripts/invoke -function DispatchFunction -event events/s3-put.json
//
// For an S3 event the example course is first uploaded to the event's bucket
// and key, so dispatch finds it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
	"github.com/examina-dev/examina-serverless/statemachine"
)

var functionDirs = map[string]string{
	"DispatchFunction": "functions/dispatch",
	"AnalyzeFunction":  "functions/analyze",
	"MergeFunction":    "functions/merge",
}

func main() {
	fn := flag.String("function", "", "DispatchFunction, AnalyzeFunction or MergeFunction")
	event := flag.String("event", "", "event file, e.g. events/s3-put.json")
	course := flag.String("course", "examples/ade.json", "course file uploaded for S3 events")
	dir := flag.String("dir", "", "build this main package instead of the function's folder")
	flag.Parse()
	if *dir != "" {
		functionDirs[*fn] = *dir
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := run(ctx, *fn, *event, *course)
	if out != nil {
		fmt.Println(string(out))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, fn, eventPath, coursePath string) ([]byte, error) {
	dir, ok := functionDirs[fn]
	if !ok {
		return nil, fmt.Errorf("unknown -function %q", fn)
	}
	payload, err := os.ReadFile(eventPath)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "examina-invoke-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bootstrap := filepath.Join(tmp, "bootstrap")
	if err := lambdarie.BuildBootstrap(ctx, dir, bootstrap, runtime.GOARCH); err != nil {
		return nil, err
	}

	moto, err := mototest.Launch(ctx)
	if err != nil {
		return nil, err
	}
	defer moto.Close()
	stack, err := moto.Provision(ctx, mototest.ProvisionOptions{Definition: statemachine.Definition()})
	if err != nil {
		return nil, err
	}
	if bucket, key, ok := s3Object(payload); ok {
		if err := upload(ctx, moto, bucket, key, coursePath); err != nil {
			return nil, err
		}
		stack.BucketName = bucket
	}

	env := append(moto.Env(), stack.LambdaEnv()...)
	env = append(env, "EXAMINA_PROVIDER=offline", "EXAMINA_BATCH_SIZE=10", "EXAMINA_MIN_CONFIDENCE=0.5", "LOG_LEVEL=DEBUG")
	f, err := lambdarie.Launch(ctx, lambdarie.Options{Bootstrap: bootstrap, Env: env, Name: fn, Timeout: 150 * time.Second, Output: os.Stderr})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out, err := f.Invoke(ctx, payload)
	var fe *lambdarie.FunctionError
	if errors.As(err, &fe) {
		return out, fmt.Errorf("%s returned %s: %s", fn, fe.Type, fe.Message)
	}
	if err != nil {
		return nil, err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	return out, nil
}

// s3Object returns the bucket and decoded key of an S3 event's first record.
func s3Object(payload []byte) (bucket, key string, ok bool) {
	var ev struct {
		Records []struct {
			EventSource string `json:"eventSource"`
			S3          struct {
				Bucket struct{ Name string } `json:"bucket"`
				Object struct{ Key string }  `json:"object"`
			} `json:"s3"`
		}
	}
	if json.Unmarshal(payload, &ev) != nil || len(ev.Records) == 0 || ev.Records[0].EventSource != "aws:s3" {
		return "", "", false
	}
	key, err := url.QueryUnescape(ev.Records[0].S3.Object.Key)
	if err != nil {
		return "", "", false
	}
	return ev.Records[0].S3.Bucket.Name, key, true
}

func upload(ctx context.Context, moto *mototest.Server, bucket, key, coursePath string) error {
	body, err := os.ReadFile(coursePath)
	if err != nil {
		return err
	}
	if err := moto.CreateBucket(ctx, bucket); err != nil {
		return err
	}
	_, err = s3.NewFromConfig(moto.AWSConfig(ctx)).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	if err != nil {
		return fmt.Errorf("uploading %s to s3://%s/%s: %w", coursePath, bucket, key, err)
	}
	return nil
}
