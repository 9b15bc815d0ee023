// Package errs gives Rathaus one error vocabulary: a small Kind that says what
// went wrong in terms a caller can act on, a message that is safe to show to a
// user, and an optional field (the form field or query parameter at fault).
//
// Errors are wrapped with fmt.Errorf("…: %w", err) for context as usual; KindOf
// and the other accessors look through the wrapping. The mapping of kinds to
// HTTP status codes lives in exactly one place, internal/web.
//
// The package deliberately does not log, translate or carry stack traces.
package errs

import (
	"errors"
	"fmt"
)

// Kind says what went wrong in terms a caller can act on.
type Kind uint8

const (
	Internal        Kind = iota // a bug or an unexpected failure; the user sees a generic message
	Invalid                     // the input is wrong; the message says how
	NotFound                    // the thing asked for does not exist (never nil, nil)
	Conflict                    // the request contradicts the current state
	Forbidden                   // authenticated, but not allowed
	Unauthenticated             // sign-in needed
	Unavailable                 // a register, node or the database did not answer; try again later
	TooLarge                    // the request body is over the limit
	TooMany                     // rate limit reached; try again later
)

var kindNames = [...]string{
	Internal:        "internal",
	Invalid:         "invalid",
	NotFound:        "not_found",
	Conflict:        "conflict",
	Forbidden:       "forbidden",
	Unauthenticated: "unauthenticated",
	Unavailable:     "unavailable",
	TooLarge:        "too_large",
	TooMany:         "too_many",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is an error with a Kind. Message is meant for the user (German in the
// UI); Field names the input at fault, if any; Err is the underlying cause,
// which is never shown to a user.
type Error struct {
	Kind    Kind
	Field   string
	Message string
	Err     error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		if msg == "" {
			return e.Err.Error()
		}
		return msg + ": " + e.Err.Error()
	}
	if msg == "" {
		return e.Kind.String()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an *Error of kind k with a user-facing message.
func E(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error that names the input field or parameter at fault.
func Field(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of kind k with a user-facing message and a cause.
func Wrap(k Kind, err error, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err has kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// MessageOf returns the user-facing message of the first *Error in err's chain
// that has one, and "" for errors that carry none (and for Internal errors,
// whose text must never reach a user).
func MessageOf(err error) string {
	var e *Error
	for err != nil {
		if !errors.As(err, &e) {
			return ""
		}
		if e.Kind == Internal {
			return ""
		}
		if e.Message != "" {
			return e.Message
		}
		err = e.Err
	}
	return ""
}

// FieldOf returns the field named by the first *Error in err's chain, if any.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
