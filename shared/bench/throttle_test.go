package bench

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// newFlakyServer is an SQS-like JSON endpoint that answers the first attempt of
// each pair of calls with a 500 internal error (retryable) and the second with success.
func newFlakyServer(t *testing.T, calls *int) string {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*calls++
		n := *calls
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if n%2 == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.sqs#InternalError","message":"try again"}`))
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
