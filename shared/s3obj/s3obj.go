// Package s3obj reads and writes the objects of one S3 bucket: course files under the
// input prefix and result documents under the results prefix. It also decodes object
// keys as S3 event notifications spell them.
package s3obj

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// API is the part of *s3.Client the store uses.
type API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Presigner is the part of *s3.PresignClient the bucket uses.
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// Bucket reads and writes objects of one bucket.
type Bucket struct {
	client  API
	name    string
	presign Presigner
}

// New returns the bucket name accessed through client. When client is an *s3.Client
// the bucket can also presign URLs (PresignGet) with the client's credentials.
func New(client API, name string) *Bucket {
	b := &Bucket{client: client, name: name}
	if c, ok := client.(*s3.Client); ok {
		b.presign = s3.NewPresignClient(c)
	}
	return b
}

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Get returns the object's content, reading at most limit+1 bytes so the caller can
// tell an object over limit (limit <= 0: no limit). A missing object is KindNotFound.
func (b *Bucket) Get(ctx context.Context, key string, limit int64) ([]byte, error) {
	const op = "s3obj.Get"
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return nil, translate(op, key, err)
	}
	defer out.Body.Close()
	var r io.Reader = out.Body
	if limit > 0 {
		r = io.LimitReader(out.Body, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, examina.E(op, examina.KindTransient, "reading s3://%s/%s: %w", b.name, key, err)
	}
	return data, nil
}

// Put writes data at key with the given content type, encrypted at rest with SSE-S3.
func (b *Bucket) Put(ctx context.Context, key string, data []byte, contentType string) error {
	const op = "s3obj.Put"
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &b.name, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ContentType: &contentType, ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	return translate(op, key, err)
}

// PutJSON writes v as JSON at key.
func (b *Bucket) PutJSON(ctx context.Context, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return examina.E("s3obj.PutJSON", examina.KindInternal, "encoding %s: %w", key, err)
	}
	return b.Put(ctx, key, data, "application/json")
}

// GetJSON decodes the JSON object at key into v. A missing object is KindNotFound.
func (b *Bucket) GetJSON(ctx context.Context, key string, v any) error {
	data, err := b.Get(ctx, key, 0)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return examina.E("s3obj.GetJSON", examina.KindInternal, "decoding s3 object %s: %w", key, err)
	}
	return nil
}

// PresignGet returns a URL that GETs the object at key without other credentials
// until it expires, ttl from now (SigV4 query signing, at most 7 days). It makes no
// request: a missing object shows only when the URL is used. A bucket without a
// presigner (New with a client other than *s3.Client) or a ttl out of range is
// KindInternal.
func (b *Bucket) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, time.Time, error) {
	const op = "s3obj.PresignGet"
	if b.presign == nil {
		return "", time.Time{}, examina.E(op, examina.KindInternal, "bucket %s has no presigner", b.name)
	}
	if ttl <= 0 || ttl > 7*24*time.Hour {
		return "", time.Time{}, examina.E(op, examina.KindInternal, "presigned URL lifetime %s: want more than 0 and at most 7 days", ttl)
	}
	signedAt := time.Now()
	req, err := b.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key},
		func(o *s3.PresignOptions) { o.Expires = ttl })
	if err != nil {
		return "", time.Time{}, examina.E(op, examina.KindTransient, "presigning s3://%s/%s: %w", b.name, key, err)
	}
	return req.URL, signedAt.Add(ttl), nil
}

// DecodeKey decodes an object key as S3 event notifications encode it: percent
// escapes, and '+' for a space. A malformed escape is KindInvalid.
func DecodeKey(key string) (string, error) {
	k, err := url.QueryUnescape(key)
	if err != nil {
		return "", examina.E("s3obj.DecodeKey", examina.KindInvalid, "object key %q: %w", key, err)
	}
	return k, nil
}

func translate(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return examina.E(op, examina.KindOther, "%s: %w", key, err)
	}
	var nsk *types.NoSuchKey
	var api smithy.APIError
	switch {
	case errors.As(err, &nsk):
		return examina.E(op, examina.KindNotFound, "%s: %w", key, err)
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return examina.E(op, examina.KindNotFound, "%s: %w", key, err)
		case "NoSuchBucket", "AccessDenied":
			return examina.E(op, examina.KindInternal, "%s: %w", key, err)
		case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout":
			return examina.E(op, examina.KindTransient, "%s: %w", key, err)
		}
		if api.ErrorFault() == smithy.FaultServer {
			return examina.E(op, examina.KindTransient, "%s: %w", key, err)
		}
		return examina.E(op, examina.KindOther, "%s: %w", key, err)
	}
	return examina.E(op, examina.KindTransient, "%s: %w", key, err)
}
