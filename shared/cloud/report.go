package cloud

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/report"
)

// DefaultReportInlineBytes is the largest report body GET /analyses/{job}/report
// returns inline: a synchronous Lambda response is at most 6 MB (6,291,556 bytes) of
// JSON, and the body travels in it as a JSON string; 1 MiB stays for the rest.
const DefaultReportInlineBytes = 5 << 20

// DefaultReportURLTTL is how long a report's presigned URL works.
const DefaultReportURLTTL = 15 * time.Minute

// maxReportBytes bounds the report object the Dispatcher reads: past it, the answer
// is a presigned URL whatever the inline limit.
const maxReportBytes = 64 << 20

// ReportKey is where the HTML report of the result document at resultKey is stored:
// beside it, results/{course}/{job}.html.
func ReportKey(resultKey string) string {
	return strings.TrimSuffix(resultKey, ".json") + ".html"
}

// ReportLink is the JSON body of GET /analyses/{job}/report when the page is too large
// for a Lambda response: a presigned URL of the stored page.
type ReportLink struct {
	JobID     string `json:"job_id"`
	ReportURL string `json:"report_url"`
	ExpiresAt string `json:"expires_at"`
}

// putReport renders res as the HTML report and stores it beside the result document.
func putReport(ctx context.Context, objects Objects, resultKey string, res examina.Result) (string, error) {
	key := ReportKey(resultKey)
	page, err := report.HTMLBytes(res)
	if err != nil {
		return key, err
	}
	return key, objects.Put(ctx, key, page, report.ContentType)
}

// report answers GET /analyses/{job}/report: 200 with the HTML page once the job is
// completed (or, when the page is too large for a Lambda response, 200 with a
// ReportLink), 400 for a malformed id, 404 for an unknown job, 409 while the job has
// no result. A job merged before reports were stored has its page rendered from the
// result document.
func (d *Dispatcher) report(ctx context.Context, id string) events.APIGatewayV2HTTPResponse {
	job, log, answer := d.lookupJob(ctx, id)
	if answer != nil {
		return *answer
	}
	if job.Status != examina.JobCompleted {
		msg := "job " + id + " has no report yet: it is " + string(job.Status)
		if job.Terminal() {
			msg = "job " + id + " has no report: it is " + string(job.Status)
		}
		body := ErrorBody{Error: msg}
		if job.Reason != "" {
			body.Problems = []string{job.Reason}
		}
		return jsonResponse(http.StatusConflict, body)
	}
	resultKey, err := d.Store.ResultKey(ctx, id)
	if err != nil {
		return d.serverError(ctx, log, "reading result key", err)
	}
	key := ReportKey(resultKey)
	page, err := d.Objects.Get(ctx, key, maxReportBytes)
	if examina.IsNotFound(err) {
		var res examina.Result
		if err := d.Objects.GetJSON(ctx, resultKey, &res); err != nil {
			return d.serverError(ctx, log, "reading result document", err)
		}
		if page, err = report.HTMLBytes(res); err != nil {
			return d.serverError(ctx, log, "rendering report", err)
		}
		log.LogAttrs(ctx, slog.LevelInfo, "report rendered from the result document", slog.String("key", key))
		key = "" // not stored: it cannot be presigned
	} else if err != nil {
		return d.serverError(ctx, log, "reading report", err)
	}
	limit := d.ReportInlineBytes
	if limit <= 0 {
		limit = DefaultReportInlineBytes
	}
	if len(page) <= maxReportBytes {
		if encoded, err := json.Marshal(string(page)); err == nil && len(encoded) <= limit {
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: string(page),
				Headers: map[string]string{"Content-Type": report.ContentType, "Cache-Control": "private, max-age=300"}}
		}
	}
	if key == "" {
		return jsonResponse(http.StatusServiceUnavailable, ErrorBody{Error: "the report is too large to return and is not stored yet; try again after the job is merged again"})
	}
	ttl := d.ReportURLTTL
	if ttl <= 0 {
		ttl = DefaultReportURLTTL
	}
	url, expires, err := d.Objects.PresignGet(ctx, key, ttl)
	if err != nil {
		return d.serverError(ctx, log, "presigning report", err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "report too large for a response: presigned", slog.Int("bytes", len(page)))
	return jsonResponse(http.StatusOK, ReportLink{JobID: id, ReportURL: url, ExpiresAt: expires.UTC().Format(time.RFC3339)})
}
