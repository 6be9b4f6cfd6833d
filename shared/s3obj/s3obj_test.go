package s3obj_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/s3obj"
	"github.com/examina-dev/examina-serverless/shared/testkit/mototest"
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

func TestPresign(t *testing.T) {
	srv := mototest.Start(t)
	ctx := t.Context()
	if err := srv.CreateBucket(ctx, "examina-p"); err != nil {
		t.Fatal(err)
	}
	b := s3obj.New(s3.NewFromConfig(srv.AWSConfig(ctx)), "examina-p")
	doc := []byte(`{"job_id":"ade-0123456789ab"}`)
	if err := b.Put(ctx, "results/ADE/ade-0123456789ab.json", doc, "application/json"); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	get, expires, err := b.PresignGet(ctx, "results/ADE/ade-0123456789ab.json", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := before.Add(15*time.Minute).Truncate(time.Second), time.Now().Add(15*time.Minute+time.Second); expires.Before(lo) || expires.After(hi) {
		t.Errorf("expiry %v, want 15 minutes from now (%v..%v)", expires, lo, hi)
	}
	u, _ := url.Parse(get)
	if u.Query().Get("X-Amz-Expires") != "900" || u.Query().Get("X-Amz-Signature") == "" {
		t.Errorf("presigned GET %s", get)
	}
	resp, err := http.Get(get)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, doc) {
		t.Fatalf("GET presigned = %d %q", resp.StatusCode, body)
	}

	put, _, err := b.PresignPut(ctx, "input/ADE/upload-1.json", "application/json", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, put, bytes.NewReader(doc))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, err := b.Get(ctx, "input/ADE/upload-1.json", 0); resp.StatusCode != http.StatusOK || err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("PUT presigned = %d; object %q, %v", resp.StatusCode, got, err)
	}

	for _, ttl := range []time.Duration{0, -time.Second, s3obj.MaxPresignTTL + time.Second} {
		if _, _, err := b.PresignGet(ctx, "k", ttl); examina.KindOf(err) != examina.KindInvalid {
			t.Errorf("PresignGet ttl %v: %v, want invalid", ttl, err)
		}
	}
	if _, _, err := s3obj.New(fakeAPI{}, "x").PresignGet(ctx, "k", time.Minute); err == nil {
		t.Error("PresignGet without an *s3.Client succeeded")
	}
}

func TestGetVersion(t *testing.T) {
	srv := mototest.Start(t)
	ctx := t.Context()
	if err := srv.CreateBucket(ctx, "examina-v"); err != nil {
		t.Fatal(err)
	}
	c := s3.NewFromConfig(srv.AWSConfig(ctx))
	b := s3obj.New(c, "examina-v")
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("examina-v"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, body := range []string{"first", "second"} {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("examina-v"), Key: aws.String("input/a.json"), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, aws.ToString(out.VersionId))
	}
	if versions[0] == "" || versions[0] == versions[1] {
		t.Fatalf("bucket is not versioned: %v", versions)
	}
	for i, want := range []string{"first", "second"} {
		if got, err := b.GetVersion(ctx, "input/a.json", versions[i], 0); err != nil || string(got) != want {
			t.Errorf("GetVersion %s = %q, %v; want %q", versions[i], got, err, want)
		}
	}
	if got, err := b.GetVersion(ctx, "input/a.json", "", 0); err != nil || string(got) != "second" {
		t.Errorf("GetVersion newest = %q, %v", got, err)
	}
}

type fakeAPI struct{ s3obj.API }
