package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// TestReport analyses the example offline, then writes its report every way the
// command allows: by job id, by course file, by result document, HTML and Markdown,
// to a file and to stdout.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	resultFile := filepath.Join(dir, "ade-result.json")
	if code, stdout, stderr := run(t, nil, "analyze", "--input", example, "--store", store, "--out", resultFile, "--quiet"); code != exitOK {
		t.Fatalf("analyze: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res examina.Result
	data, err := os.ReadFile(resultFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	isHTML := func(b []byte) bool {
		return strings.HasPrefix(string(b), "<!DOCTYPE html>") && strings.Contains(string(b), res.Topics[0].Name) && strings.Contains(string(b), "offline heuristic")
	}
	isMD := func(b []byte) bool {
		return strings.HasPrefix(string(b), "# ADE") && strings.Contains(string(b), "| "+res.Topics[0].Name+" |")
	}

	// By job id, default path beside the result in the store.
	code, stdout, stderr := run(t, nil, "report", res.JobID, "--store", store)
	want := filepath.Join(store, "results", res.JobID+".html")
	if code != exitOK || !strings.Contains(stdout, "wrote "+want) {
		t.Fatalf("report JOB: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(want); err != nil || !isHTML(b) {
		t.Fatalf("%s: %v, not the HTML report", want, err)
	}

	// By course file, Markdown to a chosen file.
	md := filepath.Join(dir, "map.md")
	if code, stdout, stderr := run(t, nil, "report", "--input", example, "--store", store, "--format", "md", "--out", md); code != exitOK {
		t.Fatalf("report --input COURSE: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(md); err != nil || !isMD(b) {
		t.Fatalf("%s: %v, not the Markdown report:\n%s", md, err, b)
	}

	// By result document, no store needed, report beside it.
	if code, stdout, stderr := run(t, nil, "report", "--input", resultFile, "--store", filepath.Join(dir, "none")); code != exitOK {
		t.Fatalf("report --input RESULT: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ade-result.html")); err != nil || !isHTML(b) {
		t.Fatalf("report beside the result document: %v", err)
	}

	// A JSONL course file, its course given by the same flags as to analyze.
	const jsonl = "../../examples/ade.jsonl"
	flags := []string{"--course", "ADE", "--course-name", "Architettura degli Elaboratori"}
	if code, _, stderr := run(t, nil, append([]string{"analyze", "--input", jsonl, "--store", store, "--quiet", "--lang", "it"}, flags...)...); code != exitOK {
		t.Fatalf("analyze JSONL: %s", stderr)
	}
	code, stdout, stderr = run(t, nil, append([]string{"report", "--input", jsonl, "--store", store, "--out", "-"}, flags...)...)
	if code != exitOK || !isHTML([]byte(stdout)) {
		t.Fatalf("report --input JSONL: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := run(t, nil, "report", "--input", jsonl, "--store", store, "--course", "ADE"); code != exitUsage || !strings.Contains(stderr, "no job in") {
		t.Errorf("report --input JSONL with another course name: exit %d %s, want no job", code, stderr)
	}

	// To stdout.
	code, stdout, _ = run(t, nil, "report", "--store", store, "--out", "-", "--format", "md", res.JobID)
	if code != exitOK || !isMD([]byte(stdout)) {
		t.Fatalf("report --out -: exit %d\n%s", code, stdout)
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	if code, _, stderr := run(t, nil, "analyze", "--input", example, "--store", store, "--quiet"); code != exitOK {
		t.Fatalf("analyze: %s", stderr)
	}
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"course":{"code":"ADE","name":"Architettura degli Elaboratori","language":"it"},"exercises":[{"id":"a","text":"Convert 13 to binary."}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"job_id": "x", "exercises": 3, "merged_exercises": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no job", []string{"report", "--store", store}, exitUsage, "give one job id"},
		{"both", []string{"report", "--store", store, "--input", example, "ade-000000000000"}, exitUsage, "not both"},
		{"format", []string{"report", "--store", store, "--format", "pdf", "x"}, exitUsage, "--format must be html or md"},
		{"unknown job", []string{"report", "--store", store, "ade-000000000000"}, exitUsage, `no job "ade-000000000000"`},
		{"no store", []string{"report", "--store", filepath.Join(dir, "none"), "ade-000000000000"}, exitUsage, "no store at"},
		{"file never analysed", []string{"report", "--store", store, "--input", other}, exitUsage, "no job in " + store + " was analysed from " + other},
		{"missing file", []string{"report", "--store", store, "--input", filepath.Join(dir, "nope.json")}, exitUsage, "nope.json"},
		{"broken result document", []string{"report", "--input", bad}, exitUsage, "looks like a result document but is not one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.msg)
			}
		})
	}
}
