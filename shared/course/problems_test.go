package course_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// ade is the course given to JSONL files in tests.
var ade = examina.Course{Code: "ADE", Name: "Architettura degli elaboratori", Language: "it"}

// doc wraps exercises (the inside of the array) in a JSON course file.
func doc(exercises string) string {
	return `{"course": {"code": "ADE", "name": "Architettura"}, "exercises": [` + exercises + `]}`
}

// want is an expected problem: the exact path, a fragment of the message and, when
// line is not 0, the exact line and column.
type want struct {
	path, msg    string
	line, column int
}

// problems returns the problems of err, failing the test if err is not a *ProblemsError.
func problems(t *testing.T, err error) []course.Problem {
	t.Helper()
	var pe *course.ProblemsError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ProblemsError", err, err)
	}
	if examina.KindOf(err) != examina.KindInvalid {
		t.Fatalf("KindOf = %v, want invalid", examina.KindOf(err))
	}
	return pe.Problems
}

func checkProblems(t *testing.T, got []course.Problem, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(wants), list(got))
	}
	for i, w := range wants {
		g := got[i]
		if g.Path != w.path {
			t.Errorf("problem %d: path %q, want %q (%s)", i, g.Path, w.path, g)
		}
		if g.Msg == "" || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("problem %d: msg %q, want it to contain %q", i, g.Msg, w.msg)
		}
		if g.Fix == "" {
			t.Errorf("problem %d: no fix (%s)", i, g)
		}
		if w.line != 0 && (g.Line != w.line || g.Column != w.column) {
			t.Errorf("problem %d: at %d:%d, want %d:%d (%s)", i, g.Line, g.Column, w.line, w.column, g)
		}
	}
}

func list(ps []course.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\t" + p.String() + "\n")
	}
	return b.String()
}

func TestParseProblems(t *testing.T) {
	small := course.Limits{MaxExerciseChars: 10, MaxExercises: 2, MaxFileBytes: 200}
	tests := []struct {
		name   string
		format course.Format
		course examina.Course
		limits course.Limits
		input  string
		want   []want
	}{
		{
			name: "oversized file is checked first", format: course.JSON, limits: small,
			input: `{"exercises": [` + strings.Repeat(" ", 200) + `"not even an object"]}`,
			want:  []want{{path: "file", msg: "over the limit of 200 bytes"}},
		},
		{
			name: "invalid UTF-8 stops everything", format: course.JSON,
			input: "{\"course\": 3,\n  \"exercises\": [{\"text\": \"ab\xffc\"}, 7]}",
			want:  []want{{path: "file", msg: "invalid UTF-8", line: 2, column: 29}},
		},
		{
			name: "invalid UTF-8 in JSONL", format: course.JSONL, course: ade,
			input: "{\"text\": \"a\"}\n\n{\"text\": \"\xe0\xa4\"}\n",
			want:  []want{{path: "file", msg: "invalid UTF-8", line: 3, column: 11}},
		},
		{
			name: "JSON syntax error with line and column", format: course.JSON,
			input: "{\"course\": {\"code\": \"ADE\", \"name\": \"x\"},\n \"exercises\": [\n  {\"text\": \"è\" \"page\": 2}\n]}",
			want:  []want{{path: "file", msg: "invalid JSON", line: 3, column: 16}},
		},
		{
			name: "JSON with two objects", format: course.JSON,
			input: "{\"text\": \"a\"}\n{\"text\": \"b\"}\n",
			want:  []want{{path: "file", msg: "after top-level value", line: 2, column: 1}},
		},
		{
			name: "JSON raw line break in string", format: course.JSON,
			input: "{\"exercises\": [{\"text\": \"a\nb\"}]}",
			want:  []want{{path: "file", msg: "in string literal", line: 1, column: 27}},
		},
		{
			name: "empty JSON file", format: course.JSON, input: " \n ",
			want: []want{{path: "file", msg: "empty"}},
		},
		{
			name: "JSON top level is an array", format: course.JSON, input: ` [{"text": "a"}]`,
			want: []want{{path: "file", msg: "found array, expected object", line: 1, column: 2}},
		},
		{
			name: "JSONL syntax errors on every bad line", format: course.JSONL, course: ade,
			input: "{\"text\": \"a\"}\n  {\"text\": \"b\",}\n\n{\"text\": \"c\"}\n{\"text\"\n",
			want: []want{
				{path: "line 2", msg: "invalid JSON", line: 2, column: 16},
				{path: "line 5", msg: "unexpected end", line: 5, column: 8},
			},
		},
		{
			name: "course is not an object", format: course.JSON,
			input: `{"course": "ADE", "exercises": [{"text": "a"}]}`,
			want: []want{
				{path: "course", msg: "found string, expected object", line: 1, column: 12},
			},
		},
		{
			name: "course missing", format: course.JSON, input: `{"exercises": [{"text": "a"}]}`,
			want: []want{{path: "course.code", msg: "missing"}, {path: "course.name", msg: "missing"}},
		},
		{
			name: "course fields of the wrong type", format: course.JSON,
			input: `{"course": {"code": 12, "name": ["x"], "language": true}, "exercises": [{"text": "a"}]}`,
			want: []want{
				{path: "course.code", msg: "found number, expected string", line: 1, column: 21},
				{path: "course.name", msg: "found array, expected string", line: 1, column: 33},
				{path: "course.language", msg: "found boolean, expected string", line: 1, column: 52},
			},
		},
		{
			name: "course code with bad characters", format: course.JSON,
			input: `{"course": {"code": "A#DE", "name": "x"}, "exercises": [{"text": "a"}]}`,
			want:  []want{{path: "course.code", msg: `contains '#'`, line: 1, column: 21}},
		},
		{
			name: "course code too long", format: course.JSON,
			input: `{"course": {"code": "` + strings.Repeat("A", 33) + `", "name": "x"}, "exercises": [{"text": "a"}]}`,
			want:  []want{{path: "course.code", msg: "33 characters, over the limit of 32"}},
		},
		{
			name: "unsupported language", format: course.JSON,
			input: `{"course": {"code": "ADE", "name": "x", "language": "fr"}, "exercises": [{"text": "a"}]}`,
			want:  []want{{path: "course.language", msg: `unsupported language "fr"`}},
		},
		{
			name: "JSONL without a course", format: course.JSONL, input: `{"text": "a"}`,
			want: []want{{path: "course.code", msg: "missing"}, {path: "course.name", msg: "missing"}},
		},
		{
			name: "exercises missing", format: course.JSON, input: `{"course": {"code": "ADE", "name": "x"}}`,
			want: []want{{path: "exercises", msg: "missing"}},
		},
		{
			name: "exercises not an array", format: course.JSON,
			input: `{"course": {"code": "ADE", "name": "x"}, "exercises": {"text": "a"}}`,
			want:  []want{{path: "exercises", msg: "found object, expected array", line: 1, column: 55}},
		},
		{
			name: "zero exercises in JSON", format: course.JSON, input: doc(""),
			want: []want{{path: "exercises", msg: "no exercises"}},
		},
		{
			name: "zero exercises in JSONL", format: course.JSONL, course: ade, input: "\n  \n",
			want: []want{{path: "exercises", msg: "no exercises"}},
		},
		{
			name: "exercise not an object", format: course.JSON, input: doc(`{"text": "a"}, "b", 3`),
			want: []want{
				{path: "exercises[1]", msg: "found string, expected object"},
				{path: "exercises[2]", msg: "found number, expected object"},
			},
		},
		{
			name: "JSONL line not an object", format: course.JSONL, course: ade, input: "{\"text\": \"a\"}\n[1]\n",
			want: []want{{path: "exercises[1]", msg: "found array, expected object", line: 2, column: 1}},
		},
		{
			name: "text missing", format: course.JSON, input: doc(`{"number": 1}`),
			want: []want{{path: "exercises[0].text", msg: "missing"}},
		},
		{
			name: "text null is missing", format: course.JSON, input: doc(`{"text": null}`),
			want: []want{{path: "exercises[0].text", msg: "missing"}},
		},
		{
			name: "text of the wrong type", format: course.JSON, input: doc(`{"text": 42}`),
			want: []want{{path: "exercises[0].text", msg: "found number, expected string"}},
		},
		{
			name: "empty and blank texts", format: course.JSON, input: doc(`{"text": ""}, {"text": " \r\n\t "}`),
			want: []want{
				{path: "exercises[0].text", msg: "empty"},
				{path: "exercises[1].text", msg: "empty"},
			},
		},
		{
			name: "NUL in text", format: course.JSON, input: doc(`{"text": "a\u0000b"}`),
			want: []want{{path: "exercises[0].text", msg: "NUL"}},
		},
		{
			name: "oversized text counts runes", format: course.JSON, limits: course.Limits{MaxExerciseChars: 10},
			input: doc(`{"text": "èèèèèèèèèè"}, {"text": " èèèèèèèèèèè "}`),
			want:  []want{{path: "exercises[1].text", msg: "11 characters, over the limit of 10"}},
		},
		{
			name: "number of the wrong type", format: course.JSON,
			input: doc(`{"text": "a", "number": true}, {"text": "b", "number": 2.5}, {"text": "c", "number": 1e3}`),
			want: []want{
				{path: "exercises[0].number", msg: "found boolean, expected string or integer"},
				{path: "exercises[1].number", msg: "found number 2.5"},
				{path: "exercises[2].number", msg: "found number 1e3"},
			},
		},
		{
			name: "bad pages", format: course.JSON,
			input: doc(`{"text": "a", "page": "3"}, {"text": "b", "page": -1}, {"text": "c", "page": 1.5}, {"text": "d", "page": 99999999999999999999}`),
			want: []want{
				{path: "exercises[0].page", msg: "found string, expected integer"},
				{path: "exercises[1].page", msg: "-1 is negative"},
				{path: "exercises[2].page", msg: "found number 1.5, expected integer"},
				{path: "exercises[3].page", msg: "too large"},
			},
		},
		{
			name: "source of the wrong type", format: course.JSON, input: doc(`{"text": "a", "source": {"file": "x.pdf"}}`),
			want: []want{{path: "exercises[0].source", msg: "found object, expected string"}},
		},
		{
			name: "bad ids", format: course.JSON,
			input: doc(`{"id": "", "text": "a"}, {"id": "` + strings.Repeat("é", 129) + `", "text": "b"}, {"id": "a\tb", "text": "c"}, {"id": "a#b", "text": "d"}, {"id": 7, "text": "e"}, {"id": " ", "text": "f"}`),
			want: []want{
				{path: "exercises[0].id", msg: "empty"},
				{path: "exercises[1].id", msg: "129 characters, over the limit of 128"},
				{path: "exercises[2].id", msg: "control character U+0009"},
				{path: "exercises[3].id", msg: "contains '#'"},
				{path: "exercises[4].id", msg: "found number, expected string"},
				{path: "exercises[5].id", msg: "empty"},
			},
		},
		{
			name: "duplicate ids name both positions", format: course.JSON,
			input: "{\"course\": {\"code\": \"ADE\", \"name\": \"x\"}, \"exercises\": [\n" +
				"{\"id\": \"e1\", \"text\": \"a\"},\n{\"id\": \"e2\", \"text\": \"b\"},\n{\"id\": \"e1\", \"text\": \"c\"},\n{\"id\": \"e1\", \"text\": \"d\"}\n]}",
			want: []want{
				{path: "exercises[2].id", msg: `duplicate id "e1", also used by exercises[0]`, line: 4, column: 8},
				{path: "exercises[3].id", msg: `duplicate id "e1", also used by exercises[0]`, line: 5, column: 8},
			},
		},
		{
			name: "duplicate ids in JSONL", format: course.JSONL, course: ade,
			input: "{\"id\": \"x\", \"text\": \"a\"}\n{\"id\": \"x\", \"text\": \"b\"}",
			want:  []want{{path: "exercises[1].id", msg: "also used by exercises[0]", line: 2, column: 8}},
		},
		{
			name: "too many exercises", format: course.JSONL, course: ade, limits: small,
			input: "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"c\"}\n{\"text\": \"d\"}\n",
			want:  []want{{path: "exercises", msg: "4 exercises, over the limit of 2", line: 3, column: 1}},
		},
		{
			name: "JSON file read as JSONL", format: course.JSONL, course: ade,
			input: doc(`{"text": "a"}`),
			want:  []want{{path: "exercises[0].text", msg: "missing"}},
		},
		{
			name: "unknown format", format: "yaml", input: doc(`{"text": "a"}`),
			want: []want{{path: "format", msg: `unknown format "yaml"`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf, err := course.Parse([]byte(tt.input), "test", course.Options{Limits: tt.limits, Format: tt.format, Course: tt.course})
			if err == nil {
				t.Fatalf("no error; parsed %+v", cf)
			}
			if cf.Exercises != nil || cf.Course != (examina.Course{}) {
				t.Errorf("a failed parse returned a course file: %+v", cf)
			}
			checkProblems(t, problems(t, err), tt.want)
		})
	}
}

func TestFiveProblemsAreAllReported(t *testing.T) {
	input := `{
  "course": {"code": "ADE", "name": "Architettura", "language": "de"},
  "exercises": [
    {"id": "a", "text": "ok"},
    {"id": "a", "text": "dup"},
    {"text": "   "},
    {"text": "p", "page": -2},
    "nope"
  ]
}`
	_, err := course.Parse([]byte(input), "five.json", course.Options{})
	checkProblems(t, problems(t, err), []want{
		{path: "course.language", msg: "unsupported", line: 2, column: 65},
		{path: "exercises[1].id", msg: "duplicate", line: 5, column: 12},
		{path: "exercises[2].text", msg: "empty", line: 6, column: 14},
		{path: "exercises[3].page", msg: "negative", line: 7, column: 27},
		{path: "exercises[4]", msg: "found string", line: 8, column: 5},
	})
	if !strings.Contains(err.Error(), "five.json: 5 problems") {
		t.Errorf("Error() = %q", err)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    course.Problem
		want string
	}{
		{course.Problem{Path: "exercises[3].text", Msg: "empty", Fix: "give the exercise's text, or remove the exercise"},
			"exercises[3].text: empty (give the exercise's text, or remove the exercise)"},
		{course.Problem{Path: "exercises[3].text", Line: 12, Column: 5, Msg: "empty", Fix: "fix it"},
			"exercises[3].text (line 12, column 5): empty (fix it)"},
		{course.Problem{Path: "line 7", Line: 7, Column: 3, Msg: "invalid JSON", Fix: "fix it"},
			"line 7, column 3: invalid JSON (fix it)"},
		{course.Problem{Path: "course.code", Msg: "missing"}, "course.code: missing"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestProblemsErrorUnwrapsToInvalid(t *testing.T) {
	pe := &course.ProblemsError{Source: "x.json", Problems: []course.Problem{{Path: "file", Msg: "empty", Fix: "f"}}}
	var err error = pe
	var ee *examina.Error
	if !errors.As(err, &ee) || ee.Kind != examina.KindInvalid {
		t.Fatalf("errors.As *examina.Error = %v, %+v", errors.As(err, &ee), ee)
	}
	if examina.KindOf(err) != examina.KindInvalid {
		t.Errorf("KindOf = %v", examina.KindOf(err))
	}
	if got, want := err.Error(), "invalid course file x.json: file: empty (f)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := pe.Strings(); len(got) != 1 || got[0] != "file: empty (f)" {
		t.Errorf("Strings() = %q", got)
	}
}

func TestProblemsAreBounded(t *testing.T) {
	// 5,000 exercises without text: 5,000 problems, but the list stops at 1,000.
	input := strings.Repeat("{}\n", 5000)
	_, err := course.Parse([]byte(input), "many.jsonl", course.Options{Format: course.JSONL, Course: ade})
	var pe *course.ProblemsError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	if len(pe.Problems) != 1000 || !pe.Truncated {
		t.Fatalf("%d problems, truncated %v; want 1000, true", len(pe.Problems), pe.Truncated)
	}
	if msg := err.Error(); !strings.Contains(msg, "1000 problems or more") || !strings.Contains(msg, "and 990 more") {
		t.Errorf("Error() = %q", msg)
	}
	if s := pe.Strings(); len(s) != 1001 || !strings.Contains(s[1000], "stopped") {
		t.Errorf("Strings() has %d entries, last %q", len(s), s[len(s)-1])
	}
}
