// Command merge is the MergeFunction Lambda: the ordered merge of a job's results into
// its result document (cloud.Merger). Configuration comes from the environment only
// (docs/ARCHITECTURE.md); AWS_ENDPOINT_URL points the SDK elsewhere.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/providers"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
)

func main() {
	h, err := newHandler(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("merge: configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(h)
}

// newHandler wires the merger from the environment; clients are created once per cold
// start.
func newHandler(ctx context.Context, getenv func(string) string) (func(context.Context, cloud.MergeInput) (cloud.MergeOutput, error), error) {
	env, err := cloud.LoadEnv(getenv)
	if err != nil {
		return nil, err
	}
	if err := env.Require("TABLE_NAME", "BUCKET_NAME"); err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	pathStyle := getenv("AWS_ENDPOINT_URL") != "" || getenv("AWS_ENDPOINT_URL_S3") != ""
	prices, err := cost.Builtin()
	if err != nil {
		return nil, err
	}
	m := &cloud.Merger{
		// The provider's base URL only decides whether it is a local server (free).
		Pricing:       cloud.Pricing{Table: prices, BaseURL: providers.FromEnv(getenv).BaseURL},
		Store:         dynamo.New(dynamodb.NewFromConfig(awsCfg), env.TableName),
		Objects:       s3obj.New(s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = pathStyle; o.DisableLogOutputChecksumValidationSkipped = true }), env.BucketName),
		ResultsPrefix: env.ResultsPrefix,
		MinConfidence: env.MinConfidence,
		Logger:        cloud.NewLogger(os.Stdout, env.LogLevel),
	}
	return m.Merge, nil
}
