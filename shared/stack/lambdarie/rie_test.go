package lambdarie_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/stack/lambdarie"
)

func TestInvoke(t *testing.T) {
	bootstrap := lambdarie.Build(t, "shared/stack/lambdarie/testdata/echo")
	fn := lambdarie.Start(t, bootstrap, []string{"GREETING=ciao"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	tests := []struct {
		name     string
		payload  string
		want     map[string]any
		wantType string
	}{
		{"echo", `{"echo":{"n":1}}`, map[string]any{"echo": map[string]any{"n": 1.0}, "env": "", "has_deadline": true}, ""},
		{"environment reaches the function", `{"echo":"x","env":"GREETING"}`, map[string]any{"echo": "x", "env": "ciao", "has_deadline": true}, ""},
		{"parent environment does not leak", `{"env":"CI"}`, map[string]any{"echo": nil, "env": "", "has_deadline": true}, ""},
		{"typed error", `{"fail":"try later"}`, nil, "RetryableError"},
		{"still serving after an error", `{"echo":2}`, map[string]any{"echo": 2.0, "env": "", "has_deadline": true}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := fn.Invoke(ctx, []byte(tc.payload))
			if tc.wantType != "" {
				var fe *lambdarie.FunctionError
				if !errors.As(err, &fe) || fe.Type != tc.wantType || fe.Message != "try later" {
					t.Fatalf("Invoke() = %s, %v; want a %s function error", out, err, tc.wantType)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("response %s: %v", out, err)
			}
			if g, w := mustJSON(t, got), mustJSON(t, tc.want); g != w {
				t.Errorf("Invoke() = %s, want %s", g, w)
			}
		})
	}
}

func TestInvokeFile(t *testing.T) {
	bootstrap := lambdarie.Build(t, "shared/stack/lambdarie/testdata/echo")
	fn := lambdarie.Start(t, bootstrap, nil)
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"echo":"from file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := fn.InvokeFile(context.Background(), event)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Echo string }
	if err := json.Unmarshal(out, &got); err != nil || got.Echo != "from file" {
		t.Errorf("InvokeFile() = %s, %v", out, err)
	}
	fn.Close()
	fn.Close()
	if _, err := fn.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("Invoke after Close succeeded")
	}
}

func TestLaunchWithoutRIE(t *testing.T) {
	t.Setenv("EXAMINA_RIE", filepath.Join(t.TempDir(), "missing"))
	_, err := lambdarie.Launch(context.Background(), lambdarie.Options{Bootstrap: "/bin/true"})
	if !errors.Is(err, lambdarie.ErrNotInstalled) {
		t.Fatalf("Launch() error = %v, want ErrNotInstalled", err)
	}
}

func TestBuildBootstrapReportsCompileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { undefined() }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := lambdarie.BuildBootstrap(context.Background(), dir, filepath.Join(dir, "bootstrap"), "arm64")
	if err == nil {
		t.Fatal("BuildBootstrap() succeeded on a broken package")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
