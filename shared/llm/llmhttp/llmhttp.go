// Package llmhttp is the one place where an LLM API's HTTP exchange becomes a result or
// a *examina.ProviderError: it posts JSON, reads bodies through a size-limited reader,
// maps status codes and provider error codes to error kinds, reads the server's
// requested wait from Retry-After, retry-after-ms and the providers' rate-limit reset
// headers, reports the remaining rate-limit budget, and scrubs API keys from every
// message it builds.
package llmhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// DefaultMaxBody bounds the bytes read from a response body. An analysis answer is a few
// KiB; anything near this size is junk.
const DefaultMaxBody = 4 << 20

// maxErrorBody bounds the bytes of an error body that are parsed for a message.
const maxErrorBody = 64 << 10

// Client posts JSON requests to one provider's API.
type Client struct {
	// Provider names the provider in errors ("groq", "anthropic", ...).
	Provider string
	// HTTP sends the requests; nil uses a client without a timeout (calls are bounded
	// by their context, which the retry layer derives from its deadline).
	HTTP *http.Client
	// Secrets are scrubbed from every error message (API keys).
	Secrets []string
	// Now tells the time the rate-limit headers are relative to; nil: time.Now.
	Now func() time.Time
	// MaxBody bounds the bytes read from a successful response (default DefaultMaxBody).
	MaxBody int64
}

// Result is a completed HTTP exchange with a 2xx status.
type Result struct {
	Status    int
	Header    http.Header
	Body      []byte
	RateLimit *examina.RateLimitInfo // nil when the headers announce no budget
}

// PostJSON sends body as JSON to url with the given extra headers. It returns the
// Result of a 2xx response. Any other outcome is a *examina.ProviderError: a transport
// failure (transient, Reason "timeout", "connection" or "cancelled" wrapping ctx's
// error), a non-2xx status (classified by ResponseError; the returned Result still
// carries Status and RateLimit), or a body larger than MaxBody (transient,
// "malformed_response").
func (c *Client) PostJSON(ctx context.Context, url string, header http.Header, body any) (Result, error) {
	return c.Do(ctx, http.MethodPost, url, header, body)
}

// GetJSON is PostJSON's GET: no body, the same results and errors (servers' metadata
// endpoints such as llama-server's /props).
func (c *Client) GetJSON(ctx context.Context, url string, header http.Header) (Result, error) {
	return c.Do(ctx, http.MethodGet, url, header, nil)
}

// Do sends a request with body (nil: none) encoded as JSON: see PostJSON.
func (c *Client) Do(ctx context.Context, method, url string, header http.Header, body any) (Result, error) {
	var payload io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Result{}, &examina.ProviderError{Provider: c.Provider, Kind: examina.KindInternal, Reason: "encoding_request", Message: err.Error(), Err: err}
		}
		payload = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, payload)
	if err != nil {
		return Result{}, &examina.ProviderError{Provider: c.Provider, Kind: examina.KindPermanent, Reason: "bad_url", Message: Scrub(err.Error(), c.Secrets...), Err: err}
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Result{}, TransportError(ctx, c.Provider, err, c.Secrets...)
	}
	defer resp.Body.Close()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	res := Result{Status: resp.StatusCode, Header: resp.Header, RateLimit: RateLimit(resp.Header, now)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _, _ := ReadBody(resp.Body, maxErrorBody)
		return res, ResponseError(c.Provider, resp.StatusCode, resp.Header, b, now, c.Secrets...)
	}
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	b, truncated, err := ReadBody(resp.Body, limit)
	if err != nil {
		return res, TransportError(ctx, c.Provider, err, c.Secrets...)
	}
	if truncated {
		return res, Malformed(c.Provider, resp.StatusCode, fmt.Errorf("response body larger than %d bytes", limit))
	}
	res.Body = b
	return res, nil
}

// ReadBody reads at most limit bytes of r. truncated says r had more; the rest is
// drained (up to a bound) so the connection can be reused.
func ReadBody(r io.Reader, limit int64) (b []byte, truncated bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		_, _ = io.CopyN(io.Discard, r, 1<<20)
		return b[:limit], true, err
	}
	return b, false, err
}

// TransportError classifies a failure to get a response: ctx cancelled (Reason
// "cancelled", wrapping context.Canceled so the retry layer stops), a timeout (the
// call's deadline or a network timeout: "timeout"), anything else ("connection").
// All are transient; the message is scrubbed of secrets.
func TransportError(ctx context.Context, provider string, err error, secrets ...string) error {
	pe := &examina.ProviderError{Provider: provider, Kind: examina.KindTransient, Reason: "connection", Err: err}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		pe.Reason = "cancelled"
		if !errors.Is(err, context.Canceled) {
			pe.Err = fmt.Errorf("%w: %w", context.Canceled, err)
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		pe.Reason = "timeout"
		if !errors.Is(err, context.DeadlineExceeded) {
			pe.Err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
	case errors.As(err, &ne) && ne.Timeout():
		pe.Reason = "timeout"
	}
	pe.Message = Scrub(err.Error(), secrets...)
	return pe
}

// Malformed is the error for a 2xx response whose body cannot be decoded: transient,
// since a proxy hiccup or a cut connection is the usual cause.
func Malformed(provider string, status int, err error) *examina.ProviderError {
	return &examina.ProviderError{Provider: provider, Kind: examina.KindTransient, HTTPStatus: status,
		Reason: "malformed_response", Message: truncate(err.Error(), 200), Err: err}
}

// Truncated is the error for an answer cut at the output budget (finish_reason
// "length", stop_reason "max_tokens", done_reason "length"): never parsed, retried with
// a larger budget.
func Truncated(provider string, status int, stop string) *examina.ProviderError {
	return &examina.ProviderError{Provider: provider, Kind: examina.KindTransient, HTTPStatus: status,
		Reason: "truncated", Code: stop, Message: "output hit the token budget"}
}
