package fakeopenai

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// OutageServer serves a handler on a TCP address that goes away and comes back: once
// After chat requests have been answered, the listener is closed and every open
// connection cut (clients see connection refused or reset) for Down, then the same
// address listens again. It is the scripted "server killed and restarted" of a test
// or a measurement.
type OutageServer struct {
	// URL is "http://127.0.0.1:port".
	URL string

	h     http.Handler
	after int
	down  time.Duration
	addr  string

	mu       sync.Mutex
	ln       net.Listener
	srv      *http.Server
	served   int
	started  bool // the outage has begun
	closed   bool
	downFrom time.Time
	upAt     time.Time
}

// NewOutageServer listens on addr ("127.0.0.1:0" for any port) and serves h, with an
// outage of down after the after-th chat request.
func NewOutageServer(addr string, h http.Handler, after int, down time.Duration) (*OutageServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &OutageServer{h: h, after: after, down: down, addr: ln.Addr().String()}
	s.URL = "http://" + s.addr
	s.serve(ln)
	return s, nil
}

// BaseURL is URL + "/v1".
func (s *OutageServer) BaseURL() string { return s.URL + "/v1" }

// Outage returns when the outage began and ended (zero until they happen).
func (s *OutageServer) Outage() (from, to time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downFrom, s.upAt
}

func (s *OutageServer) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle)}
	s.mu.Lock()
	s.ln, s.srv = ln, srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *OutageServer) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	chat := r.URL.Path == "/v1/chat/completions" || r.URL.Path == "/chat/completions"
	if chat {
		s.served++
	}
	trip := chat && !s.started && s.after > 0 && s.served > s.after
	if trip {
		s.started = true
	}
	s.mu.Unlock()
	if trip {
		go s.outage()
		// This request dies with the server, like the others in flight.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		return
	}
	s.h.ServeHTTP(w, r)
}

func (s *OutageServer) outage() {
	s.mu.Lock()
	srv := s.srv
	s.downFrom = time.Now()
	s.mu.Unlock()
	srv.Close() // the listener and every connection
	time.Sleep(s.down)
	for {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return
		}
		ln, err := net.Listen("tcp", s.addr)
		if err == nil {
			s.mu.Lock()
			s.upAt = time.Now()
			s.mu.Unlock()
			s.serve(ln)
			return
		}
		if !errors.Is(err, net.ErrClosed) {
			time.Sleep(50 * time.Millisecond) // the port is still held: try again
		}
	}
}

// Close stops the server for good.
func (s *OutageServer) Close() {
	s.mu.Lock()
	s.closed = true
	srv := s.srv
	s.mu.Unlock()
	srv.Close()
}
