package dynamo_test

import (
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/dynamo"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// TestPutMergedLongText: a merged group's text joined from many long exercises goes
// past DynamoDB's 400 KB item limit; the MRG# item keeps a prefix that fits, marked
// text_truncated (the S3 document keeps the whole text), and the write succeeds.
func TestPutMergedLongText(t *testing.T) {
	e := setup(t)
	s := e.store(t)
	ctx := t.Context()
	long := strings.Repeat(`"Dimostrare" che è così.\n`, 30_000) // 780 KB, more when escaped
	short := "Convertire 42 in binario."
	res := examina.Result{JobID: "ade-0123456789ab", MergedExercises: []examina.MergedExercise{
		{ID: "a", Position: 0, MergedFrom: []string{"a", "b"}, Text: long, Analysis: examina.Analysis{Topic: "Prove"}},
		{ID: "c", Position: 2, MergedFrom: []string{"c"}, Text: short},
	}}
	if err := s.PutMerged(ctx, res); err != nil {
		t.Fatalf("PutMerged with a %d-byte merged text: %v", len(long), err)
	}
	merged, _, _, err := s.Merged(ctx, res.JobID)
	if err != nil || len(merged) != 2 {
		t.Fatalf("Merged = %d, %v", len(merged), err)
	}
	m := merged[0]
	if !m.TextTruncated || len(m.Text) == 0 || !strings.HasPrefix(long, m.Text) || m.Analysis.Topic != "Prove" {
		t.Errorf("long group: truncated %v, %d bytes kept, prefix %v", m.TextTruncated, len(m.Text), strings.HasPrefix(long, m.Text))
	}
	if len(m.Text) < dynamo.MaxMergedJSONBytes/3 {
		t.Errorf("kept only %d bytes of text", len(m.Text))
	}
	if merged[1].TextTruncated || merged[1].Text != short {
		t.Errorf("short group changed: %+v", merged[1])
	}
	if res.MergedExercises[0].Text != long {
		t.Error("PutMerged changed the caller's document")
	}
}
