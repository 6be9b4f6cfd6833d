package course

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Problem is one thing wrong with a course file.
type Problem struct {
	// Path locates the problem: "file", "format", "line 7" (a JSONL line that is not
	// JSON), "course", "course.code", "exercises", "exercises[3]", "exercises[3].text"...
	// Exercise indexes are 0-based positions in file order.
	Path string
	// Line and Column (1-based; the column counts characters) locate the problem in
	// the file when known; 0 otherwise.
	Line, Column int
	// Msg says what is wrong.
	Msg string
	// Fix says how to correct it.
	Fix string
}

// String formats the problem for people, e.g.
// `exercises[3].text (line 12, column 13): empty (give the exercise's text, or remove the exercise)`.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Path)
	if p.Line > 0 {
		if p.Path == "line "+strconv.Itoa(p.Line) {
			fmt.Fprintf(&b, ", column %d", p.Column)
		} else {
			fmt.Fprintf(&b, " (line %d, column %d)", p.Line, p.Column)
		}
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	if p.Fix != "" {
		b.WriteString(" (")
		b.WriteString(p.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// maxProblems bounds the problems collected from one file, so a hostile file cannot
// make the list (and its memory) grow without limit.
const maxProblems = 1000

// errorListed bounds the problems spelled out by ProblemsError.Error.
const errorListed = 10

// ProblemsError lists every problem found in a course file, in file order. It unwraps
// to an *examina.Error of kind examina.KindInvalid, so examina.KindOf reports
// KindInvalid.
type ProblemsError struct {
	Source   string    // the file's name, as given to Parse
	Problems []Problem // at least one
	// Truncated is true when validation stopped after 1,000 problems: there may be more.
	Truncated bool
}

// Error summarises the problems on one line; the first 10 are spelled out. Use
// Problems (or Strings) to show them all.
func (e *ProblemsError) Error() string {
	var b strings.Builder
	b.WriteString("invalid course file")
	if e.Source != "" {
		b.WriteString(" ")
		b.WriteString(e.Source)
	}
	n := len(e.Problems)
	if n == 1 && !e.Truncated {
		b.WriteString(": ")
	} else {
		fmt.Fprintf(&b, ": %d problems%s: ", n, e.more())
	}
	for i, p := range e.Problems {
		if i == errorListed {
			fmt.Fprintf(&b, "; and %d more", n-errorListed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *ProblemsError) more() string {
	if e.Truncated {
		return " or more"
	}
	return ""
}

// Unwrap returns an *examina.Error of kind examina.KindInvalid summarising the problems.
func (e *ProblemsError) Unwrap() error {
	return &examina.Error{
		Op:   "course.Parse",
		Kind: examina.KindInvalid,
		Err:  errors.New(strconv.Itoa(len(e.Problems)) + " problems" + e.more() + " in course file " + e.Source),
	}
}

// Strings returns every problem formatted by Problem.String, e.g. for examina.Job.Problems.
func (e *ProblemsError) Strings() []string {
	out := make([]string, 0, len(e.Problems)+1)
	for _, p := range e.Problems {
		out = append(out, p.String())
	}
	if e.Truncated {
		out = append(out, fmt.Sprintf("validation stopped after %d problems: fix these and validate again", len(e.Problems)))
	}
	return out
}
