package examina

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies an error so callers decide by kind, never by message.
type Kind uint8

const (
	KindOther     Kind = iota // unclassified
	KindInvalid               // bad input: fix the input, retrying will not help
	KindNotFound              // the item does not exist
	KindConflict              // the item exists or changed concurrently
	KindTransient             // temporary: retry later
	KindPermanent             // will fail again: do not retry
	KindInternal              // a bug or a broken invariant
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindTransient:
		return "transient"
	case KindPermanent:
		return "permanent"
	case KindInternal:
		return "internal"
	}
	return "other"
}

// Error is the product's one error shape: an operation, a kind and the cause.
type Error struct {
	Op   string // what was being done, e.g. "bolt.GetJob"
	Kind Kind
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(e.Kind.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error. msg is formatted with args; a %w verb wraps a cause.
func E(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of the outermost *Error in err's chain that has one, else
// KindOther. A *ProviderError reports its own kind.
func KindOf(err error) Kind {
	for err != nil {
		switch e := err.(type) {
		case *Error:
			if e.Kind != KindOther {
				return e.Kind
			}
		case *ProviderError:
			return e.Kind
		}
		err = errors.Unwrap(err)
	}
	return KindOther
}

// ErrNotFound is returned (wrapped) by stores when an item does not exist.
var ErrNotFound = &Error{Kind: KindNotFound, Err: errors.New("not found")}

// IsNotFound reports whether err means "does not exist".
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// ProviderError is a failed provider call, translated at the client's edge so the retry
// layer can decide without knowing the provider.
type ProviderError struct {
	Provider   string
	Kind       Kind          // KindTransient or KindPermanent (or KindInvalid for bad output)
	HTTPStatus int           // 0 when no response was received
	Code       string        // provider error code/type, e.g. "rate_limit_exceeded"
	Reason     string        // short machine-friendly reason: "rate_limited", "timeout", "truncated", "invalid_output", ...
	RetryAfter time.Duration // the longest wait the response asked for, 0 if none
	RateLimit  bool          // 429/529/503-like: the provider is shedding load
	Message    string        // human message, secrets scrubbed
	Err        error         // cause, if any
}

func (e *ProviderError) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.HTTPStatus)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	} else if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *ProviderError) Unwrap() error { return e.Err }
