// Package bolt is the embedded examina.Store used by the local CLI: one bbolt file,
// dir/examina.db, holding jobs, per-exercise results, result documents and the response
// cache.
//
// # Layout
//
// The key layout mirrors the DynamoDB single-table design, so both stores have the same
// shape. There are four buckets and every value is JSON:
//
//	jobs     job id                     → examina.Job
//	results  job id + "#" + %08d position → examina.ExerciseResult
//	outputs  job id                     → examina.Result
//	cache    cache key                  → examina.Analysis
//
// Positions are zero-padded to eight digits so that byte order is numeric order and a
// job's results are read with one prefix scan (job id + "#"). Hence job ids must not be
// empty or contain '#', and positions must lie in [0, 99999999]; other values are
// rejected with examina.KindInvalid.
//
// # Durability
//
// bbolt is copy-on-write and fsyncs the data file on every commit (unless Options.NoSync
// is set, which is for benchmarks only): a process killed at any moment (kill -9, power
// loss with an honest disk) leaves the database at its last committed transaction, with
// every write call that returned nil present and no partial transaction visible. Each
// write method is one transaction; PutResults writes a whole batch atomically.
//
// # Concurrency
//
// A Store is safe for concurrent use. bbolt serialises write transactions and lets reads
// run alongside them. The file is locked for the Store's lifetime: a second Open of the
// same directory, from this process or another, fails with examina.KindConflict once
// Options.Timeout has elapsed.
package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the database file inside the store's directory.
const FileName = "examina.db"

// DefaultTimeout is how long Open waits for the file lock when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// MaxPosition is the largest exercise position the key encoding can hold.
const MaxPosition = 99_999_999

// Bucket names.
var (
	bucketJobs    = []byte("jobs")
	bucketResults = []byte("results")
	bucketOutputs = []byte("outputs")
	bucketCache   = []byte("cache")
)

// Options configures Open.
type Options struct {
	// Timeout is how long Open waits for another process to release the file lock;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// NoSync skips the fsync on commit. A crash may then lose or corrupt data: use it
	// for benchmarks only.
	NoSync bool
}

// Store is the embedded examina.Store. Create it with Open and release it with Close.
type Store struct {
	db   *bbolt.DB
	path string
}

var _ examina.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir: dir itself with mode 0700 and the
// database file dir/examina.db with mode 0600. If another Store holds the file it waits
// up to opts.Timeout (or until ctx's deadline, if sooner) and then fails with an error of
// kind examina.KindConflict.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	const op = "bolt.Open"
	if err := ctx.Err(); err != nil {
		return nil, examina.E(op, examina.KindOther, "%w", err)
	}
	if dir == "" {
		return nil, examina.E(op, examina.KindInvalid, "empty store directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, examina.E(op, fsKind(err), "create store directory: %w", err)
	}
	path := filepath.Join(dir, FileName)

	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		// bbolt treats a zero timeout as "wait forever": keep it positive.
		timeout = max(min(timeout, time.Until(dl)), time.Millisecond)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, NoSync: opts.NoSync})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, examina.E(op, examina.KindConflict,
				"store %s is in use by another examina process (waited %v): %w", path, timeout, err)
		}
		return nil, translate(op, fmt.Errorf("open %s: %w", path, err))
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketJobs, bucketResults, bucketOutputs, bucketCache} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, translate(op, fmt.Errorf("initialise %s: %w", path, err))
	}
	return &Store{db: db, path: path}, nil
}

// Close releases the file lock and closes the database. Closing twice is harmless; any
// other call after Close fails with examina.KindInternal.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return translate("bolt.Close", err)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// PutJob creates or replaces a job record.
func (s *Store) PutJob(ctx context.Context, job examina.Job) error {
	return putValue(ctx, s, "bolt.PutJob", bucketJobs, job.ID, job)
}

// GetJob returns the job, or an error of kind examina.KindNotFound.
func (s *Store) GetJob(ctx context.Context, id string) (examina.Job, error) {
	return getValue[examina.Job](ctx, s, "bolt.GetJob", bucketJobs, id, "job")
}

// ListJobs returns every job, newest first by CreatedAt, ties by id ascending.
func (s *Store) ListJobs(ctx context.Context) ([]examina.Job, error) {
	const op = "bolt.ListJobs"
	jobs := []examina.Job{}
	err := s.view(ctx, op, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			var j examina.Job
			if err := decode(op, v, &j); err != nil {
				return err
			}
			jobs = append(jobs, j)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(jobs, func(a, b examina.Job) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return jobs, nil
}

// PutResult stores (or replaces) the result of one exercise of a job, keyed by its
// Position.
func (s *Store) PutResult(ctx context.Context, jobID string, r examina.ExerciseResult) error {
	const op = "bolt.PutResult"
	k, v, err := encodeResult(op, jobID, r)
	if err != nil {
		return err
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketResults).Put(k, v)
	})
}

// PutResults stores many results of a job in one transaction (one fsync): either all
// are written or, on error, none. A later result at the same position as an earlier one
// in rs replaces it. An empty rs is a no-op.
func (s *Store) PutResults(ctx context.Context, jobID string, rs []examina.ExerciseResult) error {
	const op = "bolt.PutResults"
	if len(rs) == 0 {
		if err := ctx.Err(); err != nil {
			return examina.E(op, examina.KindOther, "%w", err)
		}
		return checkID(op, jobID)
	}
	keys, vals := make([][]byte, len(rs)), make([][]byte, len(rs))
	for i, r := range rs {
		k, v, err := encodeResult(op, jobID, r)
		if err != nil {
			return err
		}
		keys[i], vals[i] = k, v
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketResults)
		for i := range keys {
			if err := b.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutBatch stores many results of a job and many cache entries in one transaction
// (one fsync): the Runner's write path. Either everything is written or, on error,
// nothing.
func (s *Store) PutBatch(ctx context.Context, jobID string, rs []examina.ExerciseResult, cache map[string]examina.Analysis) error {
	const op = "bolt.PutBatch"
	if err := checkID(op, jobID); err != nil {
		return err
	}
	keys, vals := make([][]byte, len(rs)), make([][]byte, len(rs))
	for i, r := range rs {
		k, v, err := encodeResult(op, jobID, r)
		if err != nil {
			return err
		}
		keys[i], vals[i] = k, v
	}
	ckeys, cvals := make([][]byte, 0, len(cache)), make([][]byte, 0, len(cache))
	for k, a := range cache {
		if k == "" {
			return examina.E(op, examina.KindInvalid, "empty cache key")
		}
		v, err := encode(op, a)
		if err != nil {
			return err
		}
		ckeys, cvals = append(ckeys, []byte(k)), append(cvals, v)
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketResults)
		for i := range keys {
			if err := b.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
		c := tx.Bucket(bucketCache)
		for i := range ckeys {
			if err := c.Put(ckeys[i], cvals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Results returns the job's stored results in position order (none: an empty slice).
func (s *Store) Results(ctx context.Context, jobID string) ([]examina.ExerciseResult, error) {
	const op = "bolt.Results"
	if err := checkID(op, jobID); err != nil {
		return nil, err
	}
	prefix := resultPrefix(jobID)
	rs := []examina.ExerciseResult{}
	err := s.view(ctx, op, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketResults).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r examina.ExerciseResult
			if err := decode(op, v, &r); err != nil {
				return err
			}
			rs = append(rs, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// DeleteResults removes every stored result of the job. The job record and its output
// stay.
func (s *Store) DeleteResults(ctx context.Context, jobID string) error {
	const op = "bolt.DeleteResults"
	if err := checkID(op, jobID); err != nil {
		return err
	}
	prefix := resultPrefix(jobID)
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketResults)
		// Collect first: deleting while a cursor walks can skip keys.
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutOutput stores (or replaces) the job's result document, keyed by res.JobID.
func (s *Store) PutOutput(ctx context.Context, res examina.Result) error {
	return putValue(ctx, s, "bolt.PutOutput", bucketOutputs, res.JobID, res)
}

// GetOutput returns the job's result document, or an error of kind
// examina.KindNotFound.
func (s *Store) GetOutput(ctx context.Context, jobID string) (examina.Result, error) {
	return getValue[examina.Result](ctx, s, "bolt.GetOutput", bucketOutputs, jobID, "output of job")
}

// putValue stores v as JSON under the id key of bucket.
func putValue(ctx context.Context, s *Store, op string, bucket []byte, id string, v any) error {
	if err := checkID(op, id); err != nil {
		return err
	}
	data, err := encode(op, v)
	if err != nil {
		return err
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(id), data)
	})
}

// getValue decodes the JSON stored under the id key of bucket, or returns a
// KindNotFound error naming what (e.g. "job").
func getValue[T any](ctx context.Context, s *Store, op string, bucket []byte, id, what string) (T, error) {
	var v T
	if err := checkID(op, id); err != nil {
		return v, err
	}
	err := s.view(ctx, op, func(tx *bbolt.Tx) error {
		data := tx.Bucket(bucket).Get([]byte(id))
		if data == nil {
			return notFound(op, "%s %q", what, id)
		}
		return decode(op, data, &v)
	})
	return v, err
}

// CacheGet returns the cached analysis for key; ok is false on a miss.
func (s *Store) CacheGet(ctx context.Context, key string) (a examina.Analysis, ok bool, err error) {
	const op = "bolt.CacheGet"
	if key == "" {
		return a, false, examina.E(op, examina.KindInvalid, "empty cache key")
	}
	err = s.view(ctx, op, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketCache).Get([]byte(key))
		if v == nil {
			return nil
		}
		ok = true
		return decode(op, v, &a)
	})
	if err != nil {
		return examina.Analysis{}, false, err
	}
	return a, ok, nil
}

// CachePut stores an analysis under key, replacing any previous one.
func (s *Store) CachePut(ctx context.Context, key string, a examina.Analysis) error {
	const op = "bolt.CachePut"
	if key == "" {
		return examina.E(op, examina.KindInvalid, "empty cache key")
	}
	v, err := encode(op, a)
	if err != nil {
		return err
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCache).Put([]byte(key), v)
	})
}

// update runs fn in a write transaction, after checking ctx; fn's errors and bbolt's are
// translated into examina errors under op.
func (s *Store) update(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	return translate(op, s.db.Update(func(tx *bbolt.Tx) error {
		// The lock wait may have been long: do not write for a caller that gave up.
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(tx)
	}))
}

// view runs fn in a read transaction, after checking ctx.
func (s *Store) view(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return examina.E(op, examina.KindOther, "%w", err)
	}
	return translate(op, s.db.View(fn))
}

// resultKey is the results-bucket key of position pos of job jobID.
func resultKey(jobID string, pos int) []byte {
	return fmt.Appendf(nil, "%s#%08d", jobID, pos)
}

// resultPrefix is the prefix shared by every results-bucket key of job jobID, and by no
// other job's keys.
func resultPrefix(jobID string) []byte {
	return []byte(jobID + "#")
}

func encodeResult(op, jobID string, r examina.ExerciseResult) (key, val []byte, err error) {
	if err := checkID(op, jobID); err != nil {
		return nil, nil, err
	}
	if r.Position < 0 || r.Position > MaxPosition {
		return nil, nil, examina.E(op, examina.KindInvalid,
			"exercise %q: position %d outside [0, %d]", r.ID, r.Position, MaxPosition)
	}
	val, err = encode(op, r)
	if err != nil {
		return nil, nil, err
	}
	return resultKey(jobID, r.Position), val, nil
}

// checkID rejects ids the key layout cannot hold.
func checkID(op, id string) error {
	switch {
	case id == "":
		return examina.E(op, examina.KindInvalid, "empty job id")
	case strings.Contains(id, "#"):
		return examina.E(op, examina.KindInvalid, "job id %q contains '#'", id)
	}
	return nil
}

func encode(op string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		// NaN or infinite confidence, for example.
		return nil, examina.E(op, examina.KindInvalid, "encode: %w", err)
	}
	return b, nil
}

func decode(op string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return examina.E(op, examina.KindInternal, "corrupt stored value: %w", err)
	}
	return nil
}

func notFound(op, format string, args ...any) error {
	return &examina.Error{Op: op, Kind: examina.KindNotFound,
		Err: fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), examina.ErrNotFound)}
}

// translate turns a bbolt, file system or context error into an examina error under op.
// Errors that already carry a kind (built by this package) pass through unchanged.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *examina.Error
	if errors.As(err, &e) {
		return err
	}
	var kind examina.Kind
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		kind = examina.KindOther
	case errors.Is(err, bolterrors.ErrTimeout):
		kind = examina.KindConflict
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen), errors.Is(err, bolterrors.ErrTxClosed),
		errors.Is(err, bolterrors.ErrTxNotWritable), errors.Is(err, bolterrors.ErrBucketNotFound),
		errors.Is(err, bolterrors.ErrIncompatibleValue):
		kind = examina.KindInternal
	case errors.Is(err, bolterrors.ErrKeyRequired), errors.Is(err, bolterrors.ErrKeyTooLarge),
		errors.Is(err, bolterrors.ErrValueTooLarge):
		kind = examina.KindInvalid
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
		errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrInvalidMapping),
		errors.Is(err, bolterrors.ErrDatabaseReadOnly), errors.Is(err, bolterrors.ErrMaxSizeReached):
		kind = examina.KindPermanent
	default:
		kind = fsKind(err)
	}
	return &examina.Error{Op: op, Kind: kind, Err: err}
}

// fsKind classifies an operating-system error.
func fsKind(err error) examina.Kind {
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrExist), errors.Is(err, fs.ErrInvalid):
		return examina.KindPermanent
	}
	return examina.KindOther
}
