package s3obj_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/mototest"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
)

func TestBucket(t *testing.T) {
	srv := mototest.Start(t)
	ctx := t.Context()
	if err := srv.CreateBucket(ctx, "examina-b"); err != nil {
		t.Fatal(err)
	}
	b := s3obj.New(s3.NewFromConfig(srv.AWSConfig(ctx)), "examina-b")
	if b.Name() != "examina-b" {
		t.Fatalf("Name = %q", b.Name())
	}
	key := "input/ADE/Prova d'esame +1.json"
	data := bytes.Repeat([]byte("0123456789"), 100)
	if err := b.Put(ctx, key, data, "application/json"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int64
		want  int
	}{{0, 1000}, {2000, 1000}, {1000, 1000}, {999, 1000}, {10, 11}} {
		got, err := b.Get(ctx, key, tc.limit)
		if err != nil || len(got) != tc.want || !bytes.Equal(got, data[:tc.want]) {
			t.Errorf("Get limit %d = %d bytes, %v; want %d", tc.limit, len(got), err, tc.want)
		}
	}
	if _, err := b.Get(ctx, "input/none.json", 0); !examina.IsNotFound(err) {
		t.Errorf("Get of a missing key: %v, want not found", err)
	}
	type doc struct{ A []int }
	if err := b.PutJSON(ctx, "results/x.json", doc{A: []int{1, 2}}); err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := b.GetJSON(ctx, "results/x.json", &d); err != nil || len(d.A) != 2 {
		t.Fatalf("GetJSON = %+v, %v", d, err)
	}
	if err := b.GetJSON(ctx, key, &d); examina.KindOf(err) != examina.KindInternal {
		t.Errorf("GetJSON of a non-JSON object: %v, want internal", err)
	}
	if err := b.GetJSON(ctx, "results/none.json", &d); !examina.IsNotFound(err) {
		t.Errorf("GetJSON of a missing key: %v, want not found", err)
	}
	missing := s3obj.New(s3.NewFromConfig(srv.AWSConfig(ctx)), "no-such-bucket")
	if err := missing.Put(ctx, "k", data, "text/plain"); err == nil || examina.IsNotFound(err) {
		t.Errorf("Put to a missing bucket: %v", err)
	}
}

func TestDecodeKey(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"input/ADE/ade.json", "input/ADE/ade.json", true},
		{"input/ADE/prova+d%27esame.json", "input/ADE/prova d'esame.json", true},
		{"input/ADE/a%2Bb.json", "input/ADE/a+b.json", true},
		{"input/%C3%A8/x.jsonl", "input/è/x.jsonl", true},
		{"input/ADE/bad%zz.json", "", false},
		{"input/ADE/trailing%", "", false},
	}
	for _, tc := range tests {
		got, err := s3obj.DecodeKey(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("DecodeKey(%q) = %q, %v; want %q (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && examina.KindOf(err) != examina.KindInvalid {
			t.Errorf("DecodeKey(%q) error kind %v, want invalid", tc.in, examina.KindOf(err))
		}
	}
}

func FuzzDecodeKey(f *testing.F) {
	f.Add("input/ADE/ade.json")
	f.Add("input/ADE/prova+d%27esame.json")
	f.Add("%")
	f.Fuzz(func(t *testing.T, key string) {
		got, err := s3obj.DecodeKey(key)
		if err != nil {
			return
		}
		// Encoding the decoded key and decoding it again gives it back.
		again, err := s3obj.DecodeKey(url.QueryEscape(got))
		if err != nil || again != got {
			t.Fatalf("DecodeKey(QueryEscape(%q)) = %q, %v", got, again, err)
		}
	})
}

// TestPresignGet: the URL fetches the object with no other credentials, says when it
// expires, and refuses lifetimes S3 does not accept.
func TestPresignGet(t *testing.T) {
	srv := mototest.Start(t)
	ctx := t.Context()
	if err := srv.CreateBucket(ctx, "examina-p"); err != nil {
		t.Fatal(err)
	}
	b := s3obj.New(s3.NewFromConfig(srv.AWSConfig(ctx), func(o *s3.Options) { o.UsePathStyle = true }), "examina-p")
	key := "results/ADE/ade-0123456789ab.html"
	page := []byte("<!DOCTYPE html><title>map</title>")
	if err := b.Put(ctx, key, page, "text/html; charset=utf-8"); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	u, expires, err := b.PresignGet(ctx, key, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if expires.Before(before.Add(15*time.Minute)) || expires.After(time.Now().Add(15*time.Minute)) {
		t.Errorf("expires %v, want 15 minutes from now", expires)
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Query().Get("X-Amz-Expires") != "900" || parsed.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("presigned URL %q (%v): want X-Amz-Expires=900 and a signature", u, err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, page) || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("GET presigned URL: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
	for _, ttl := range []time.Duration{0, -time.Second, 8 * 24 * time.Hour} {
		if _, _, err := b.PresignGet(ctx, key, ttl); examina.KindOf(err) != examina.KindInternal {
			t.Errorf("PresignGet ttl %v: %v, want internal", ttl, err)
		}
	}
	var api s3obj.API = s3.NewFromConfig(srv.AWSConfig(ctx))
	wrapped := s3obj.New(struct{ s3obj.API }{api}, "examina-p")
	if _, _, err := wrapped.PresignGet(ctx, key, time.Minute); examina.KindOf(err) != examina.KindInternal {
		t.Errorf("PresignGet without a presigner: %v, want internal", err)
	}
}
