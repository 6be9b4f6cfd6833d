// Package bedrock is a provider over Amazon Bedrock's Converse API through
// aws-sdk-go-v2's bedrockruntime, with the SDK's own retryer turned off so the
// product's retry layer is the only one. Structured output uses Converse's
// outputConfig.textFormat JSON schema where enabled; SDK errors are translated into
// *examina.ProviderError at this edge with the same table as the HTTP clients.
package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/llmhttp"
)

// ConverseAPI is the part of *bedrockruntime.Client the provider uses.
type ConverseAPI interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
}

// Config configures a Client.
type Config struct {
	// Model is the Bedrock model or inference profile id, such as
	// "eu.anthropic.claude-haiku-4-5-20251001-v1:0". Required.
	Model string
	// Region is the AWS region (default: the SDK's, from AWS_REGION or the profile).
	Region string
	// Endpoint, when set, replaces the regional bedrock-runtime endpoint (a VPC
	// endpoint, a proxy): an http(s) URL.
	Endpoint string
	// Structured requests the JSON schema output format (outputConfig.textFormat);
	// only some models support it.
	Structured bool
	// Temperature, when set, is sent in inferenceConfig.
	Temperature *float32
	// API, when set, is used instead of a client built from the default AWS
	// configuration (tests, or a caller that built its own).
	API ConverseAPI
}

// Client is an examina.Provider over Bedrock Converse, safe for concurrent use.
type Client struct {
	cfg Config
	api ConverseAPI
}

// New returns a client for cfg. Without cfg.API it loads the default AWS configuration
// with the SDK retryer disabled (aws.NopRetryer, one attempt per call).
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Model == "" {
		return nil, examina.E("bedrock.New", examina.KindInvalid, "bedrock: a model id is required")
	}
	if cfg.API == nil {
		opts := []func(*config.LoadOptions) error{
			config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
			config.WithRetryMaxAttempts(1),
		}
		if cfg.Region != "" {
			opts = append(opts, config.WithRegion(cfg.Region))
		}
		awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, examina.E("bedrock.New", examina.KindInvalid, "bedrock: loading the AWS configuration: %w", err)
		}
		var optFns []func(*bedrockruntime.Options)
		if cfg.Endpoint != "" {
			u, err := url.Parse(cfg.Endpoint)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, examina.E("bedrock.New", examina.KindInvalid, "bedrock: endpoint %q is not an http(s) URL", cfg.Endpoint)
			}
			optFns = append(optFns, func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
		}
		cfg.API = NewRuntime(awsCfg, optFns...)
	} else if cfg.Endpoint != "" {
		return nil, examina.E("bedrock.New", examina.KindInvalid, "bedrock: an endpoint applies only to the client New builds, not to Config.API")
	}
	return &Client{cfg: cfg, api: cfg.API}, nil
}

// NewRuntime builds a bedrockruntime client from awsCfg with the SDK retryer turned off.
func NewRuntime(awsCfg aws.Config, optFns ...func(*bedrockruntime.Options)) *bedrockruntime.Client {
	return bedrockruntime.NewFromConfig(awsCfg, append([]func(*bedrockruntime.Options){func(o *bedrockruntime.Options) {
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 1
	}}, optFns...)...)
}

// Name returns "bedrock".
func (c *Client) Name() string { return "bedrock" }

// Model returns the configured model id.
func (c *Client) Model() string { return c.cfg.Model }

func (c *Client) input(req examina.Request) *bedrockruntime.ConverseInput {
	// Converse requires alternating roles: the rejected answer is the assistant's turn
	// before the repair instruction.
	var msgs []types.Message
	for _, t := range req.Turns() {
		role := types.ConversationRoleUser
		if t.Role == examina.RoleAssistant {
			role = types.ConversationRoleAssistant
		}
		msgs = append(msgs, types.Message{Role: role, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: t.Content}}})
	}
	in := &bedrockruntime.ConverseInput{
		ModelId:         aws.String(c.cfg.Model),
		Messages:        msgs,
		InferenceConfig: &types.InferenceConfiguration{},
	}
	if req.Prompt.System != "" {
		in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: req.Prompt.System}}
	}
	if req.MaxTokens > 0 {
		in.InferenceConfig.MaxTokens = aws.Int32(int32(min(req.MaxTokens, 1<<30)))
	}
	if c.cfg.Temperature != nil {
		in.InferenceConfig.Temperature = c.cfg.Temperature
	}
	if c.cfg.Structured && len(req.Schema) > 0 {
		in.OutputConfig = &types.OutputConfig{TextFormat: &types.OutputFormat{
			Type: types.OutputFormatTypeJsonSchema,
			Structure: &types.OutputFormatStructureMemberJsonSchema{Value: types.JsonSchemaDefinition{
				Schema: aws.String(string(req.Schema)), Name: aws.String("exercise_analysis")}},
		}}
	}
	return in
}

// Complete sends one Converse request. SDK errors become ProviderErrors by HTTP status
// and error code (ThrottlingException 429 and ServiceUnavailableException 503 are
// rate-limited, ModelTimeoutException 408 and InternalServerException 500 transient,
// ValidationException 400, AccessDeniedException 403 and ResourceNotFoundException 404
// permanent); a stop reason of max_tokens is a truncated error with the tokens filled
// in.
func (c *Client) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	out := examina.Response{Model: c.cfg.Model}
	res, err := c.api.Converse(ctx, c.input(req))
	if err != nil {
		return out, translate(ctx, err)
	}
	out.HTTPStatus = http.StatusOK
	if u := res.Usage; u != nil {
		out.InputTokens, out.OutputTokens = int(aws.ToInt32(u.InputTokens)), int(aws.ToInt32(u.OutputTokens))
	}
	switch res.StopReason {
	case types.StopReasonMaxTokens, types.StopReasonModelContextWindowExceeded:
		return out, llmhttp.Truncated("bedrock", out.HTTPStatus, string(res.StopReason))
	}
	msg, ok := res.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return out, llmhttp.Malformed("bedrock", out.HTTPStatus, errors.New("converse output without a message"))
	}
	var text strings.Builder
	for _, b := range msg.Value.Content {
		switch b := b.(type) {
		case *types.ContentBlockMemberText:
			text.WriteString(b.Value)
		case *types.ContentBlockMemberToolUse:
			if raw, err := b.Value.Input.MarshalSmithyDocument(); err == nil && json.Valid(raw) {
				text.Write(raw)
			}
		}
	}
	if strings.TrimSpace(text.String()) == "" {
		return out, &examina.ProviderError{Provider: "bedrock", Kind: examina.KindInvalid, HTTPStatus: out.HTTPStatus,
			Reason: "invalid_output", Message: "empty answer (stop reason " + string(res.StopReason) + ")"}
	}
	out.Text = text.String()
	return out, nil
}

// translate maps an SDK error to a ProviderError.
func translate(ctx context.Context, err error) error {
	var re *awshttp.ResponseError
	var ae smithy.APIError
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return llmhttp.TransportError(ctx, "bedrock", err)
	}
	if !errors.As(err, &re) || re.Response == nil || re.HTTPStatusCode() == 0 {
		if errors.As(err, &ae) {
			return &examina.ProviderError{Provider: "bedrock", Kind: kindOf(ae.ErrorCode()), Code: ae.ErrorCode(),
				Reason: "api_error", Message: llmhttp.Scrub(ae.ErrorMessage()), Err: err}
		}
		return llmhttp.TransportError(ctx, "bedrock", err)
	}
	status := re.HTTPStatusCode()
	body := map[string]any{"message": err.Error()}
	if errors.As(err, &ae) {
		body = map[string]any{"message": ae.ErrorMessage(), "code": ae.ErrorCode()}
	}
	b, _ := json.Marshal(map[string]any{"error": body})
	pe := llmhttp.ResponseError("bedrock", status, re.Response.Header, b, time.Now())
	pe.Err = err
	return pe
}

// kindOf classifies an error code without a status (should not happen with the SDK's
// HTTP transport, kept for errors built by hand).
func kindOf(code string) examina.Kind {
	switch code {
	case "ThrottlingException", "ServiceUnavailableException", "InternalServerException",
		"ModelTimeoutException", "ModelNotReadyException":
		return examina.KindTransient
	}
	return examina.KindPermanent
}

var _ examina.Provider = (*Client)(nil)

// String describes the client without secrets.
func (c *Client) String() string { return fmt.Sprintf("bedrock(%s)", c.cfg.Model) }
