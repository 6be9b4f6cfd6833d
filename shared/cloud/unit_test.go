package cloud_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/examina-dev/examina-serverless/shared/cloud"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

func TestParseInputKey(t *testing.T) {
	tests := []struct {
		key  string
		want cloud.InputKey
		ok   bool
	}{
		{"input/ADE/ade.json", cloud.InputKey{Course: "ADE", Name: "ade", Format: course.JSON}, true},
		{"input/ADE/2024/june.JSONL", cloud.InputKey{Course: "ADE", Name: "june", Format: course.JSONL}, true},
		{"input/ade.json", cloud.InputKey{Name: "ade", Format: course.JSON}, true},
		{"input/ADE/prova d'esame.json", cloud.InputKey{Course: "ADE", Name: "prova d'esame", Format: course.JSON}, true},
		{"results/ADE/x.json", cloud.InputKey{}, false},
		{"input/ADE/x.txt", cloud.InputKey{}, false},
		{"input/", cloud.InputKey{}, false},
		{"inputs/ADE/x.json", cloud.InputKey{}, false},
	}
	for _, tc := range tests {
		got, ok := cloud.ParseInputKey(tc.key, "input/")
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseInputKey(%q) = %+v, %v; want %+v, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseInputKey(f *testing.F) {
	f.Add("input/ADE/ade.json")
	f.Add("input/a/b/c.jsonl")
	f.Fuzz(func(t *testing.T, key string) {
		k, ok := cloud.ParseInputKey(key, "input/")
		if !ok {
			return
		}
		if !strings.HasPrefix(key, "input/") || (k.Format != course.JSON && k.Format != course.JSONL) || strings.Contains(k.Course, "/") || strings.Contains(k.Name, "/") {
			t.Fatalf("ParseInputKey(%q) = %+v", key, k)
		}
		if id := cloud.JobID(k.Course, key); !cloud.ValidJobID(id) {
			t.Fatalf("JobID(%q) = %q is not a valid job id", k.Course, id)
		}
	})
}

func TestJobID(t *testing.T) {
	tests := []struct{ code, slug string }{
		{"ADE", "ade"}, {"Analisi 1", "analisi-1"}, {"", "course"}, {"***", "course"},
		{"è", "-"}, {strings.Repeat("x", 50), strings.Repeat("x", 40)},
	}
	for _, tc := range tests {
		if got := cloud.CourseSlug(tc.code); got != tc.slug && !(tc.slug == "-" && got == "course") {
			t.Errorf("CourseSlug(%q) = %q, want %q", tc.code, got, tc.slug)
		}
		if id := cloud.JobID(tc.code, "x"); !cloud.ValidJobID(id) {
			t.Errorf("JobID(%q) = %q: not valid", tc.code, id)
		}
	}
	if cloud.JobID("ADE", "ab", "c") == cloud.JobID("ADE", "a", "bc") {
		t.Error("JobID parts are ambiguous")
	}
	if got, want := cloud.JobID("ADE", "input/ADE/ade.json"), cloud.JobID("ade", "input/ADE/ade.json"); got != want {
		t.Errorf("JobID depends on the code's case: %q, %q", got, want)
	}
	for _, id := range []string{"", "ADE-0123456789ab", "ade-0123456789a", "ade-0123456789abc", "../x-0123456789ab", "ade_0123456789ab"} {
		if cloud.ValidJobID(id) {
			t.Errorf("ValidJobID(%q) = true", id)
		}
	}
}

func FuzzParseTask(f *testing.F) {
	f.Add(`{"job_id":"ade-0123456789ab","course":{"code":"ADE"},"position":1,"exercise":{"id":"x","text":"t","position":1},"previous":"p","total":2}`)
	f.Add(`{"job_id":""}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		task, err := cloud.ParseTask(body)
		if err != nil {
			return
		}
		if task.JobID == "" || task.Position < 0 || task.Position >= task.Total || task.Exercise.Position != task.Position {
			t.Fatalf("ParseTask accepted %+v", task)
		}
		if task.Cached != nil && (!task.CacheChecked || task.Cached.Status == examina.StatusDegraded) {
			t.Fatalf("ParseTask accepted a cached analysis %+v with cache_checked %v", task.Cached, task.CacheChecked)
		}
	})
}

func TestParseTaskCacheDecision(t *testing.T) {
	const base = `"job_id":"ade-0123456789ab","position":0,"total":1,"exercise":{"id":"x","text":"t","position":0}`
	tests := []struct {
		name          string
		body          string
		ok, checked   bool
		cachedTopic   string
		cachedPresent bool
	}{
		{"no decision (older dispatcher)", `{` + base + `}`, true, false, "", false},
		{"miss", `{` + base + `,"cache_checked":true}`, true, true, "", false},
		{"hit", `{` + base + `,"cache_checked":true,"cached":{"topic":"FSM","status":"ok","confidence":0.8}}`, true, true, "FSM", true},
		{"hit without decision", `{` + base + `,"cached":{"topic":"FSM","status":"ok"}}`, false, false, "", false},
		{"degraded hit", `{` + base + `,"cache_checked":true,"cached":{"status":"degraded"}}`, false, false, "", false},
		{"malformed cached", `{` + base + `,"cache_checked":true,"cached":"FSM"}`, false, false, "", false},
	}
	for _, tt := range tests {
		task, err := cloud.ParseTask(tt.body)
		if (err == nil) != tt.ok {
			t.Errorf("%s: ParseTask error %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		if task.CacheChecked != tt.checked || (task.Cached != nil) != tt.cachedPresent || (task.Cached != nil && task.Cached.Topic != tt.cachedTopic) {
			t.Errorf("%s: checked %v, cached %+v", tt.name, task.CacheChecked, task.Cached)
		}
	}
}

func TestLoadEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		ok    bool
		check func(cloud.Env) bool
	}{
		{"defaults", map[string]string{}, true, func(e cloud.Env) bool {
			return e.InputPrefix == "input/" && e.ResultsPrefix == "results/" && e.BatchSize == 10 && e.MaxReceives == 3 && e.MinConfidence == 0.5 && e.LogLevel == slog.LevelInfo
		}},
		{"values", map[string]string{"EXAMINA_BATCH_SIZE": "4", "EXAMINA_MAX_RECEIVES": "5", "EXAMINA_MIN_CONFIDENCE": "0.7", "LOG_LEVEL": "debug", "TABLE_NAME": "t"}, true,
			func(e cloud.Env) bool {
				return e.BatchSize == 4 && e.MaxReceives == 5 && e.MinConfidence == 0.7 && e.LogLevel == slog.LevelDebug && e.TableName == "t"
			}},
		{"bad batch", map[string]string{"EXAMINA_BATCH_SIZE": "0"}, false, nil},
		{"bad confidence", map[string]string{"EXAMINA_MIN_CONFIDENCE": "2"}, false, nil},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, false, nil},
		{"overlapping prefixes", map[string]string{"RESULTS_PREFIX": "input/results/"}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cloud.LoadEnv(func(k string) string { return tc.env[k] })
			if (err == nil) != tc.ok || (tc.check != nil && !tc.check(e)) {
				t.Fatalf("LoadEnv = %+v, %v", e, err)
			}
		})
	}
	e, _ := cloud.LoadEnv(func(string) string { return "" })
	if err := e.Require("TABLE_NAME", "QUEUE_URL"); err == nil || !strings.Contains(err.Error(), "QUEUE_URL") {
		t.Fatalf("Require: %v", err)
	}
}

type fakeSSM struct {
	calls int
	err   error
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if !aws.ToBool(in.WithDecryption) {
		return nil, errors.New("not decrypted")
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String("sk-from-ssm")}}, nil
}

type fakeSecrets struct{ calls int }

func (f *fakeSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String("sk-from-secret")}, nil
}

func TestAPIKey(t *testing.T) {
	ctx := t.Context()
	s := &fakeSSM{err: errors.New("throttled")}
	k := &cloud.APIKey{SSM: s, Parameter: "/p"}
	if _, err := k.Get(ctx); err == nil || strings.Contains(err.Error(), "sk-") {
		t.Fatalf("failed load: %v", err)
	}
	s.err = nil
	for range 3 {
		if v, err := k.Get(ctx); err != nil || v != "sk-from-ssm" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if s.calls != 2 || k.Loads() != 2 {
		t.Fatalf("SSM calls = %d, want 2 (one failed, then cached)", s.calls)
	}
	sec := &fakeSecrets{}
	k = &cloud.APIKey{Secrets: sec, SecretID: "examina/key"}
	for range 2 {
		if v, err := k.Get(ctx); err != nil || v != "sk-from-secret" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if sec.calls != 1 {
		t.Fatalf("Secrets Manager calls = %d, want 1", sec.calls)
	}
	if v, err := (&cloud.APIKey{}).Get(ctx); v != "" || err != nil {
		t.Fatalf("no source: %q, %v", v, err)
	}
}
