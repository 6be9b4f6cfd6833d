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
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// Bucket reads and writes objects of one bucket.
type Bucket struct {
	client  API
	presign *s3.PresignClient // nil when client is not an *s3.Client
	name    string
}

// New returns the bucket name accessed through client. Presigned URLs need client
// to be an *s3.Client (they are signed with its credentials and endpoint).
func New(client API, name string) *Bucket {
	b := &Bucket{client: client, name: name}
	if c, ok := client.(*s3.Client); ok {
		b.presign = s3.NewPresignClient(c)
	}
	return b
}

// MaxPresignTTL is the longest validity S3 accepts for a SigV4 presigned URL.
const MaxPresignTTL = 7 * 24 * time.Hour

// PresignGet returns a presigned GET URL of the object at key, valid for ttl (at most
// MaxPresignTTL), and the instant it expires as the signature states it. A URL signed
// with temporary credentials (a Lambda role's) stops working when they expire, even
// before that instant.
func (b *Bucket) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, time.Time, error) {
	const op = "s3obj.PresignGet"
	if err := b.checkPresign(op, ttl); err != nil {
		return "", time.Time{}, err
	}
	req, err := b.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", time.Time{}, examina.E(op, examina.KindInternal, "presigning GET %s: %w", key, err)
	}
	return presigned(op, req.URL)
}

// PresignPut returns a presigned PUT URL for the object at key, valid for ttl, and
// its expiry. The uploader must send the Content-Type header contentType, which the
// signature covers; the object is encrypted with the bucket's default encryption.
func (b *Bucket) PresignPut(ctx context.Context, key, contentType string, ttl time.Duration) (string, time.Time, error) {
	const op = "s3obj.PresignPut"
	if err := b.checkPresign(op, ttl); err != nil {
		return "", time.Time{}, err
	}
	req, err := b.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &b.name, Key: &key, ContentType: &contentType},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", time.Time{}, examina.E(op, examina.KindInternal, "presigning PUT %s: %w", key, err)
	}
	return presigned(op, req.URL)
}

func (b *Bucket) checkPresign(op string, ttl time.Duration) error {
	if b.presign == nil {
		return examina.E(op, examina.KindInternal, "bucket %s: presigning needs an *s3.Client", b.name)
	}
	if ttl <= 0 || ttl > MaxPresignTTL {
		return examina.E(op, examina.KindInvalid, "validity %v: want more than 0 and at most %v", ttl, MaxPresignTTL)
	}
	return nil
}

// presigned returns the URL with the expiry its X-Amz-Date and X-Amz-Expires give.
func presigned(op, raw string) (string, time.Time, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", time.Time{}, examina.E(op, examina.KindInternal, "presigned URL: %w", err)
	}
	q := u.Query()
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return "", time.Time{}, examina.E(op, examina.KindInternal, "presigned URL without X-Amz-Date: %w", err)
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil {
		return "", time.Time{}, examina.E(op, examina.KindInternal, "presigned URL without X-Amz-Expires: %w", err)
	}
	return raw, signed.Add(time.Duration(secs) * time.Second), nil
}

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Get returns the object's content, reading at most limit+1 bytes so the caller can
// tell an object over limit (limit <= 0: no limit). A missing object is KindNotFound.
func (b *Bucket) Get(ctx context.Context, key string, limit int64) ([]byte, error) {
	return b.GetVersion(ctx, key, "", limit)
}

// GetVersion is Get of one version of the object (versionID "" is the newest). A
// missing object or version is KindNotFound.
func (b *Bucket) GetVersion(ctx context.Context, key, versionID string, limit int64) ([]byte, error) {
	const op = "s3obj.GetVersion"
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := b.client.GetObject(ctx, in)
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
		case "NoSuchKey", "NotFound", "NoSuchVersion":
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
