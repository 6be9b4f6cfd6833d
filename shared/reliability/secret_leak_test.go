package reliability

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/openai"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/retry/retrytest"
	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

// leakKeys are recognisable fake API keys: one shaped like an OpenAI key (which the
// HTTP layer also scrubs by pattern) and one that matches no known key pattern, so
// only the client's list of secrets can scrub it.
var leakKeys = []string{
	"sk-test-LEAKCHECK-7f3c9a1e5b2d4c6f8a0b",
	"tok.LEAKCHECK.c0ffee4b1d.e5d1",
}

// leakForms returns what must never appear: the key, its distinctive tail, and its
// base64 forms (alone and as a basic/bearer credential).
func leakForms(key string) []string {
	return []string{
		key,
		key[len(key)-12:],
		base64.StdEncoding.EncodeToString([]byte(key)),
		base64.StdEncoding.EncodeToString([]byte("Bearer " + key)),
		base64.StdEncoding.EncodeToString([]byte(":" + key)),
	}
}

// leaks returns a description of every form of key found in the named blobs.
func leaks(key string, blobs map[string][]byte) []string {
	var out []string
	for name, b := range blobs {
		for _, form := range leakForms(key) {
			if i := bytes.Index(b, []byte(form)); i >= 0 {
				lo, hi := max(i-80, 0), min(i+len(form)+40, len(b))
				out = append(out, fmt.Sprintf("%s: …%q…", name, b[lo:hi]))
			}
		}
	}
	return out
}

// scanForKey fails the test for every named blob that holds a form of key.
func scanForKey(t *testing.T, key string, blobs map[string][]byte) {
	t.Helper()
	for _, l := range leaks(key, blobs) {
		t.Errorf("the API key leaks into %s", l)
	}
}

// TestLeakScannerFindsKeys proves the scanner sees the forms it looks for.
func TestLeakScannerFindsKeys(t *testing.T) {
	key := leakKeys[1]
	tests := []struct {
		name string
		blob string
		want int
	}{
		{"clean", `{"error": "[redacted]"}`, 0},
		{"whole key", "auth failed for " + key, 2}, // the key and its tail
		{"tail only", "key …" + key[len(key)-12:], 1},
		{"base64 bearer", "Authorization: " + base64.StdEncoding.EncodeToString([]byte("Bearer "+key)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := leaks(key, map[string][]byte{"blob": []byte(tt.blob)}); len(got) != tt.want {
				t.Fatalf("found %d forms (%v), want %d", len(got), got, tt.want)
			}
		})
	}
}

// leakScenarios are the answers of the fake provider, chosen by a marker in the
// exercise text. Each is a way a real server can put the caller's key into what the
// client reads: error bodies echoing the Authorization header, a proxy's error page
// answered with 200, a rate limit message quoting the key.
var leakScenarios = []struct {
	marker  string
	want    examina.Status
	answers func(key string) []fakeopenai.Answer
}{
	{"ok", examina.StatusOK, func(string) []fakeopenai.Answer { return nil }},
	{"echo-500", examina.StatusOK, func(key string) []fakeopenai.Answer {
		return []fakeopenai.Answer{{Status: 500, Body: errBody("server_error", "upstream failed for request with Authorization: Bearer "+key)}}
	}},
	{"echo-429", examina.StatusOK, func(key string) []fakeopenai.Answer {
		return []fakeopenai.Answer{{Status: 429, Header: http.Header{"Retry-After": {"1"}},
			Body: errBody("rate_limit_exceeded", "Rate limit reached for key "+key+". Please try again in 1s.")}}
	}},
	{"echo-400", examina.StatusDegraded, func(key string) []fakeopenai.Answer {
		return []fakeopenai.Answer{{Status: 400, Body: errBody("invalid_request_error", "bad request; your key "+key+" was used")}}
	}},
	{"echo-401", examina.StatusDegraded, func(key string) []fakeopenai.Answer {
		return []fakeopenai.Answer{{Status: 401, Body: errBody("invalid_api_key", "Incorrect API key provided: "+key)}}
	}},
	{"echo-403-plain", examina.StatusDegraded, func(key string) []fakeopenai.Answer {
		return []fakeopenai.Answer{{Status: 403, Body: "<html>Forbidden. Request headers: Authorization: Bearer " + key + "</html>"}}
	}},
	{"proxy-200-page", examina.StatusDegraded, func(key string) []fakeopenai.Answer {
		page := "<html><body>Proxy error. Debug: Authorization=Bearer " + key + " x-api-key=" + key + "</body></html>"
		return []fakeopenai.Answer{{Content: page}, {Content: page}, {Content: page}}
	}},
	{"malformed-body", examina.StatusDegraded, func(key string) []fakeopenai.Answer {
		return []fakeopenai.Answer{{Status: 200, Body: `{"choices": [` + key}, {Status: 200, Body: `{"choices": [` + key}, {Status: 200, Body: `{"choices": [` + key}}
	}},
}

// userMessage returns the first user message of a recorded chat completion request.
func userMessage(r fakeopenai.Request) string {
	msgs, _ := r.Payload["messages"].([]any)
	for _, m := range msgs {
		if m, ok := m.(map[string]any); ok && m["role"] == "user" {
			s, _ := m["content"].(string)
			return s
		}
	}
	return ""
}

func errBody(code, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "code": code}})
	return string(b)
}

// TestNoKeyLeakLocalRun runs a full local job (pipeline.Runner, bolt store, the
// OpenAI-compatible client against the fake server, which requires the key) with
// debug logging to a text and a JSON handler, while the server echoes the key in error
// bodies, rate-limit messages and a proxy's error page. The key must not appear in any
// log line, the result document, the run's error, or the bytes of the store file.
func TestNoKeyLeakLocalRun(t *testing.T) {
	for _, key := range leakKeys {
		t.Run(strings.SplitN(key, "LEAKCHECK", 2)[0], func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			attempts := map[string]int{}
			srv := fakeopenai.New(fakeopenai.Config{
				APIKey: key,
				Respond: func(_ int, r fakeopenai.Request) fakeopenai.Answer {
					// The marker of the exercise itself, not of the previous one.
					user := userMessage(r)
					body := []byte(user[max(strings.Index(user, "<exercise>"), 0):])
					for _, sc := range leakScenarios {
						if !bytes.Contains(body, []byte("[case "+sc.marker+"]")) {
							continue
						}
						mu.Lock()
						n := attempts[sc.marker]
						attempts[sc.marker]++
						mu.Unlock()
						if as := sc.answers(key); n < len(as) {
							return as[n]
						}
					}
					return fakeopenai.Answer{}
				},
			})
			defer srv.Close()
			client, err := openai.New(openai.Config{BaseURL: srv.BaseURL(), APIKey: key, Model: "gpt-test"})
			if err != nil {
				t.Fatal(err)
			}

			cf := generateCourse(t, 2)
			cf.Exercises = cf.Exercises[:0]
			for i, sc := range leakScenarios {
				cf.Exercises = append(cf.Exercises, examina.Exercise{
					ID: fmt.Sprintf("leak-%02d", i), Number: fmt.Sprint(i + 1), Position: i,
					Text: fmt.Sprintf("Exercise %d [case %s]. Compute the hit rate of a direct-mapped cache.", i+1, sc.marker),
				})
			}

			var text, js bytes.Buffer
			logger := slog.New(slog.NewMultiHandler(
				slog.NewTextHandler(&text, &slog.HandlerOptions{Level: slog.LevelDebug}),
				slog.NewJSONHandler(&js, &slog.HandlerOptions{Level: slog.LevelDebug}),
			))
			dir := t.TempDir()
			st, err := bolt.Open(ctx, dir, bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			clock := retrytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			pol := retry.DefaultPolicy()
			r := &pipeline.Runner{
				Store: st,
				Analyzer: &pipeline.Analyzer{Provider: client, Policy: pol, Clock: clock, Language: "en",
					CallTimeout: 10 * time.Second, Logger: logger},
				BatchSize: 4, Clock: clock, Logger: logger,
			}
			res, runErr := r.Run(ctx, cf)
			if runErr != nil {
				t.Fatalf("run: %v", runErr)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			// The run did meet every leak path: the key was accepted (successes), and the
			// echoing answers produced degraded results with their errors recorded.
			if got := srv.Stats(); got.Admitted == 0 || got.Admitted != got.Requests {
				t.Fatalf("fake server stats %+v: the key was not sent as required", got)
			}
			if res.Stats.Degraded == 0 || res.Stats.Analyzed == 0 {
				t.Fatalf("stats %+v: want both successes and degraded results", res.Stats)
			}
			if text.Len() == 0 || js.Len() == 0 {
				t.Fatal("no debug logs were written")
			}

			doc, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			blobs := map[string][]byte{
				"the text log":        text.Bytes(),
				"the JSON log":        js.Bytes(),
				"the result document": doc,
			}
			err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				blobs["store file "+filepath.Base(path)] = b
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range res.Exercises {
				if want := leakScenarios[i].want; e.Analysis.Status != want {
					t.Errorf("%s (%s): %s, want %s", e.ID, leakScenarios[i].marker, e.Analysis.Status, want)
				}
			}
			scanForKey(t, key, blobs)
			t.Logf("FIGURES key %s…: scanned %d log bytes, a %d-byte result document and %d store bytes over %d requests (%d degraded): 0 leaks",
				key[:8], text.Len()+js.Len(), len(doc), len(blobs["store file "+bolt.FileName]), srv.Stats().Requests, res.Stats.Degraded)
		})
	}
}
