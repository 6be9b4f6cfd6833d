package dynamo

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// The result document is stored gzip'd in chunks of at most chunkBytes (items are
// limited to 400 KB), all written in one transaction (at most 4 MB).
const (
	chunkBytes = 350_000
	maxChunks  = 10
)

func outSK(n int) string { return fmt.Sprintf("%s%04d", prefOut, n) }

// PutOutput stores the job's result document, replacing any previous one atomically.
// A document whose compressed size exceeds 3.5 MB is rejected with KindInvalid (the
// cloud path keeps result documents in S3).
func (s *Store) PutOutput(ctx context.Context, res examina.Result) error {
	const op = "dynamo.PutOutput"
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	if res.JobID == "" {
		return examina.E(op, examina.KindInvalid, "empty job id")
	}
	data, err := json.Marshal(res)
	if err != nil {
		return examina.E(op, examina.KindInternal, "encoding result document: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(data)
	if err := zw.Close(); err != nil {
		return examina.E(op, examina.KindInternal, "compressing result document: %w", err)
	}
	blob := buf.Bytes()
	n := (len(blob) + chunkBytes - 1) / chunkBytes
	if n > maxChunks {
		return examina.E(op, examina.KindInvalid, "result document is %d bytes compressed, over the %d bytes DynamoDB can hold", len(blob), chunkBytes*maxChunks)
	}
	sum := sha256.Sum256(blob)
	digest := hex.EncodeToString(sum[:])
	old, err := s.queryPrefix(ctx, op, res.JobID, prefOut, true)
	if err != nil {
		return err
	}
	var items []types.TransactWriteItem
	for i := range n {
		item := key(jobPK(res.JobID), outSK(i))
		item["data"] = &types.AttributeValueMemberB{Value: blob[i*chunkBytes : min((i+1)*chunkBytes, len(blob))]}
		item["chunks"] = num(int64(n))
		item["digest"] = str(digest)
		if exp := s.expiry(s.JobTTL); exp > 0 {
			item["expires_at"] = num(exp)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: item}})
	}
	for _, it := range old {
		if sk := stringAttr(it, "SK"); sk >= outSK(n) {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: key(jobPK(res.JobID), sk)}})
		}
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return translate(op, err)
}

// GetOutput returns the job's result document, or an error of kind KindNotFound.
func (s *Store) GetOutput(ctx context.Context, jobID string) (examina.Result, error) {
	const op = "dynamo.GetOutput"
	items, err := s.queryPrefix(ctx, op, jobID, prefOut, false)
	if err != nil {
		return examina.Result{}, err
	}
	if len(items) == 0 {
		return examina.Result{}, examina.E(op, examina.KindNotFound, "result document of job %s: %w", jobID, examina.ErrNotFound)
	}
	n := numberAttr(items[0], "chunks")
	digest := stringAttr(items[0], "digest")
	if n != len(items) {
		return examina.Result{}, examina.E(op, examina.KindInternal, "job %s: %d output chunks stored, %d expected", jobID, len(items), n)
	}
	var blob []byte
	for i, it := range items {
		if stringAttr(it, "SK") != outSK(i) || stringAttr(it, "digest") != digest {
			return examina.Result{}, examina.E(op, examina.KindInternal, "job %s: output chunk %d is inconsistent", jobID, i)
		}
		b, ok := it["data"].(*types.AttributeValueMemberB)
		if !ok {
			return examina.Result{}, examina.E(op, examina.KindInternal, "job %s: output chunk %d has no data", jobID, i)
		}
		blob = append(blob, b.Value...)
	}
	if sum := sha256.Sum256(blob); hex.EncodeToString(sum[:]) != digest {
		return examina.Result{}, examina.E(op, examina.KindInternal, "job %s: output digest mismatch", jobID)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return examina.Result{}, examina.E(op, examina.KindInternal, "job %s: %w", jobID, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return examina.Result{}, examina.E(op, examina.KindInternal, "job %s: %w", jobID, err)
	}
	var res examina.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return examina.Result{}, examina.E(op, examina.KindInternal, "job %s: decoding result document: %w", jobID, err)
	}
	return res, nil
}
