package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// awsAPI calls the emulator's CloudFormation, Lambda and API Gateway APIs with
// signed requests (the SDK's signer, so IAM is enforced on the engine's calls too):
// the three services the engine needs beyond the project's SDK clients, spoken
// directly to keep their SDK modules out of the build.
type awsAPI struct {
	endpoint string
	region   string
	creds    aws.Credentials
	http     *http.Client
}

func (a *awsAPI) do(ctx context.Context, service, method, path, contentType string, body []byte, header http.Header) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if err := v4.NewSigner().SignHTTP(ctx, a.creds, req, hash, service, a.region, time.Now()); err != nil {
		return nil, nil, fmt.Errorf("stack: signing: %w", err)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("stack: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("stack: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return out, resp.Header, fmt.Errorf("stack: %s %s: %s: %s", service, path, resp.Status, bytes.TrimSpace(out))
	}
	return out, resp.Header, nil
}

// cfn calls a CloudFormation Query action and decodes its XML result into out.
func (a *awsAPI) cfn(ctx context.Context, action string, params url.Values, out any) error {
	params.Set("Action", action)
	params.Set("Version", "2010-05-15")
	body, _, err := a.do(ctx, "cloudformation", http.MethodPost, "/", "application/x-www-form-urlencoded", []byte(params.Encode()), nil)
	if err != nil {
		return fmt.Errorf("cloudformation %s: %w", action, err)
	}
	if out == nil {
		return nil
	}
	if err := xml.Unmarshal(body, out); err != nil {
		return fmt.Errorf("cloudformation %s: decoding: %w", action, err)
	}
	return nil
}

type stackDescription struct {
	Status  string `xml:"DescribeStacksResult>Stacks>member>StackStatus"`
	Reason  string `xml:"DescribeStacksResult>Stacks>member>StackStatusReason"`
	Outputs []struct {
		Key   string `xml:"OutputKey"`
		Value string `xml:"OutputValue"`
	} `xml:"DescribeStacksResult>Stacks>member>Outputs>member"`
}

type stackResources struct {
	Resources []struct {
		LogicalID  string `xml:"LogicalResourceId"`
		PhysicalID string `xml:"PhysicalResourceId"`
		Type       string `xml:"ResourceType"`
		Status     string `xml:"ResourceStatus"`
		Reason     string `xml:"ResourceStatusReason"`
	} `xml:"ListStackResourcesResult>StackResourceSummaries>member"`
}

func (a *awsAPI) createStack(ctx context.Context, name string, template []byte, params map[string]string) error {
	v := url.Values{}
	v.Set("StackName", name)
	v.Set("TemplateBody", string(template))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		n := strconv.Itoa(i + 1)
		v.Set("Parameters.member."+n+".ParameterKey", k)
		v.Set("Parameters.member."+n+".ParameterValue", params[k])
	}
	for i, c := range []string{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"} {
		v.Set("Capabilities.member."+strconv.Itoa(i+1), c)
	}
	return a.cfn(ctx, "CreateStack", v, nil)
}

func (a *awsAPI) describeStack(ctx context.Context, name string) (*stackDescription, error) {
	var d stackDescription
	err := a.cfn(ctx, "DescribeStacks", url.Values{"StackName": {name}}, &d)
	return &d, err
}

func (a *awsAPI) listStackResources(ctx context.Context, name string) (*stackResources, error) {
	var r stackResources
	err := a.cfn(ctx, "ListStackResources", url.Values{"StackName": {name}}, &r)
	return &r, err
}

// lambdaJSON calls a Lambda REST action and decodes the JSON answer into out.
func (a *awsAPI) lambdaJSON(ctx context.Context, method, path string, out any) error {
	body, _, err := a.do(ctx, "lambda", method, path, "", nil, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, out)
}

// invoke calls Lambda's Invoke synchronously and returns the payload and the
// X-Amz-Function-Error header ("" when the function succeeded).
func (a *awsAPI) invoke(ctx context.Context, function string, payload []byte) ([]byte, string, error) {
	body, h, err := a.do(ctx, "lambda", http.MethodPost, "/2015-03-31/functions/"+strings.ReplaceAll(url.PathEscape(function), ":", "%3A")+"/invocations",
		"application/json", payload, http.Header{"X-Amz-Invocation-Type": {"RequestResponse"}})
	if err != nil {
		return nil, "", err
	}
	return body, h.Get("X-Amz-Function-Error"), nil
}

type eventSourceMapping struct {
	UUID                  string   `json:"UUID"`
	BatchSize             int      `json:"BatchSize"`
	EventSourceArn        string   `json:"EventSourceArn"`
	FunctionArn           string   `json:"FunctionArn"`
	State                 string   `json:"State"`
	FunctionResponseTypes []string `json:"FunctionResponseTypes"`
	ScalingConfig         *struct {
		MaximumConcurrency int `json:"MaximumConcurrency"`
	} `json:"ScalingConfig"`
}

func (a *awsAPI) eventSourceMappings(ctx context.Context) ([]eventSourceMapping, error) {
	var out struct {
		EventSourceMappings []eventSourceMapping `json:"EventSourceMappings"`
	}
	if err := a.lambdaJSON(ctx, http.MethodGet, "/2015-03-31/event-source-mappings", &out); err != nil {
		return nil, fmt.Errorf("lambda ListEventSourceMappings: %w", err)
	}
	return out.EventSourceMappings, nil
}

type apiRoute struct {
	RouteID           string `json:"routeId"`
	RouteKey          string `json:"routeKey"`
	Target            string `json:"target"`
	AuthorizationType string `json:"authorizationType"`
}

type apiIntegration struct {
	IntegrationID        string `json:"integrationId"`
	IntegrationType      string `json:"integrationType"`
	IntegrationURI       string `json:"integrationUri"`
	PayloadFormatVersion string `json:"payloadFormatVersion"`
	TimeoutInMillis      int    `json:"timeoutInMillis"`
}

func (a *awsAPI) httpAPI(ctx context.Context, apiID string) ([]apiRoute, []apiIntegration, error) {
	var routes struct {
		Items []apiRoute `json:"items"`
	}
	var integrations struct {
		Items []apiIntegration `json:"items"`
	}
	body, _, err := a.do(ctx, "apigateway", http.MethodGet, "/v2/apis/"+apiID+"/routes", "", nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("apigatewayv2 GetRoutes: %w", err)
	}
	if err := json.Unmarshal(body, &routes); err != nil {
		return nil, nil, err
	}
	body, _, err = a.do(ctx, "apigateway", http.MethodGet, "/v2/apis/"+apiID+"/integrations", "", nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("apigatewayv2 GetIntegrations: %w", err)
	}
	if err := json.Unmarshal(body, &integrations); err != nil {
		return nil, nil, err
	}
	return routes.Items, integrations.Items, nil
}
