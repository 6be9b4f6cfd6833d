package llmhttp

import (
	"context"
	"sync"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Once asks a server for metadata (a context window, a slot count, capabilities) at
// most once per answer: a value, or a definitive "not available" (the server has no such
// endpoint), is kept; a transient failure (the server is down) is asked again by the
// next Get. Calls are serialised, so concurrent workers ask once. Safe for concurrent
// use; the zero value is ready.
type Once[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
	ok   bool
}

// Get returns the kept answer, or calls fetch. fetch returns the value, whether it is
// available, and whether its answer is final (false: ask again next time).
func (o *Once[T]) Get(ctx context.Context, fetch func(context.Context) (v T, ok, final bool)) (T, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return o.v, o.ok
	}
	v, ok, final := fetch(ctx)
	if final {
		o.done, o.v, o.ok = true, v, ok
	}
	return v, ok
}

// Final reports whether err, returned by a metadata request, is a definitive answer
// (nil, a 4xx: the endpoint does not exist or is refused, a body that is not what was
// expected) rather than a transient failure worth asking again.
func Final(err error) bool {
	return err == nil || examina.KindOf(err) != examina.KindTransient
}
