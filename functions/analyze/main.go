// Command analyze is the AnalyzeFunction Lambda: SQS batches of exercises analysed by
// the configured provider (cloud.Analyze). Configuration comes from the environment
// only (docs/ARCHITECTURE.md); the provider's API key is read once per cold start from
// the SSM SecureString EXAMINA_API_KEY_PARAMETER or the secret EXAMINA_API_KEY_SECRET.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/cost"
	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/fleetgate"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/providers"
	"github.com/examina-dev/examina-serverless/shared/retry"
)

func main() {
	h, err := newHandler(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("analyze: configuration", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(h)
}

// newHandler wires the analyze handler from the environment; clients are created once
// per cold start, the provider on the first message (after its key is read).
func newHandler(ctx context.Context, getenv func(string) string) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), error) {
	env, err := cloud.LoadEnv(getenv)
	if err != nil {
		return nil, err
	}
	if err := env.Require("TABLE_NAME"); err != nil {
		return nil, err
	}
	pcfg, err := providers.FromEnv(getenv).WithDefaults()
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	log := cloud.NewLogger(os.Stdout, env.LogLevel)
	key := &cloud.APIKey{Parameter: env.APIKeyParameter, SecretID: env.APIKeySecret}
	if key.Parameter != "" {
		key.SSM = ssm.NewFromConfig(awsCfg)
	}
	if key.SecretID != "" {
		key.Secrets = secretsmanager.NewFromConfig(awsCfg)
	}
	prices, err := cost.Builtin()
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(awsCfg)
	store := dynamo.New(db, env.TableName)
	h := &cloud.Analyze{
		Store:       store,
		Course:      store,
		Spend:       store,
		Pricing:     cloud.Pricing{Table: prices, BaseURL: pcfg.BaseURL},
		Signaler:    sfn.NewFromConfig(awsCfg),
		MaxReceives: env.MaxReceives,
		Requeue:     sqs.NewFromConfig(awsCfg),
		QueueURL:    env.QueueURL,
		MaxWait:     env.MaxWait,
		MaxDefer:    env.MaxDefer,
		Logger:      log,
		Analyzer: func(ctx context.Context) (*pipeline.Analyzer, error) {
			cfg := pcfg
			k, err := key.Get(ctx)
			if err != nil {
				return nil, err
			}
			if k != "" {
				cfg.APIKey = k
			}
			p, err := providers.New(ctx, cfg)
			if err != nil {
				return nil, err
			}
			a := &pipeline.Analyzer{Provider: p, Policy: retry.DefaultPolicy(), CallTimeout: cfg.Timeout, Logger: log}
			if g := fleetGate(db, env, cfg, p, k); g != nil {
				a.Gate = g
			}
			return a, nil
		},
	}
	return h.Handle, nil
}

// fleetGate is the deployment's fleet-wide budget for provider p and its key, from
// the provider's limits (EXAMINA_RPM / EXAMINA_TPM, the template's Rpm and Tpm; empty:
// the provider's defaults, -1: off) with at most BatchSize calls in flight; nil when
// both limits are off.
func fleetGate(db fleetgate.DynamoAPI, env cloud.Env, cfg providers.Config, p examina.Provider, apiKey string) *fleetgate.Gate {
	if cfg.RPM <= 0 && cfg.TPM <= 0 {
		return nil
	}
	return fleetgate.New(fleetgate.NewDynamoTable(db, env.TableName), fleetgate.Key(p.Name(), p.Model(), apiKey),
		fleetgate.Config{RPM: cfg.RPM, TPM: cfg.TPM, MaxConcurrency: env.BatchSize, MaxWait: env.MaxWait})
}
