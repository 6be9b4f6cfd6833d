package course_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// fuzzLimits are small so the fuzzers reach every limit.
var fuzzLimits = course.Limits{MaxExerciseChars: 64, MaxExercises: 8, MaxFileBytes: 4096}

// checkInvariants asserts what must hold for any input, parsed or rejected.
func checkInvariants(t *testing.T, cf examina.CourseFile, err error) {
	t.Helper()
	if err != nil {
		var pe *course.ProblemsError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T) is not a *ProblemsError", err, err)
		}
		if len(pe.Problems) == 0 {
			t.Fatalf("ProblemsError without problems")
		}
		if examina.KindOf(err) != examina.KindInvalid {
			t.Fatalf("KindOf = %v", examina.KindOf(err))
		}
		for _, p := range pe.Problems {
			if p.Path == "" || p.Msg == "" || p.Fix == "" || p.Line < 0 || p.Column < 0 || (p.Line > 0) != (p.Column > 0) {
				t.Fatalf("incomplete problem %+v", p)
			}
		}
		_ = err.Error()
		return
	}
	if len(cf.Exercises) == 0 || len(cf.Exercises) > fuzzLimits.MaxExercises {
		t.Fatalf("%d exercises accepted", len(cf.Exercises))
	}
	if cf.Course.Code == "" || cf.Course.Name == "" || (cf.Course.Language != "en" && cf.Course.Language != "it") {
		t.Fatalf("bad course accepted: %+v", cf.Course)
	}
	ids := map[string]int{}
	for i, ex := range cf.Exercises {
		if ex.Position != i {
			t.Fatalf("exercise %d has position %d", i, ex.Position)
		}
		if ex.ID == "" || strings.Contains(ex.ID, "#") || utf8.RuneCountInString(ex.ID) > 128 {
			t.Fatalf("exercise %d has id %q", i, ex.ID)
		}
		if j, dup := ids[ex.ID]; dup {
			t.Fatalf("exercises %d and %d share id %q", j, i, ex.ID)
		}
		ids[ex.ID] = i
		if !utf8.ValidString(ex.Text) || strings.TrimSpace(ex.Text) != ex.Text || ex.Text == "" ||
			strings.Contains(ex.Text, "\x00") || strings.Contains(ex.Text, "\r\n") ||
			utf8.RuneCountInString(ex.Text) > fuzzLimits.MaxExerciseChars {
			t.Fatalf("exercise %d has text %q", i, ex.Text)
		}
		if ex.Number == "" || ex.Page < 0 {
			t.Fatalf("exercise %d: number %q, page %d", i, ex.Number, ex.Page)
		}
	}
}

// parseTwice parses data twice with opts, checks both results are equal and satisfy
// the invariants.
func parseTwice(t *testing.T, data []byte, opts course.Options) {
	t.Helper()
	cf, err := course.Parse(data, "fuzz", opts)
	checkInvariants(t, cf, err)
	again, err2 := course.Parse(data, "fuzz", opts)
	if !reflect.DeepEqual(cf, again) || (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
		t.Fatalf("two parses differ:\n%+v, %v\n%+v, %v", cf, err, again, err2)
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		doc(`{"text": "a"}`),
		doc(`{"id": "x", "number": 3, "text": "b", "page": 2, "source": "s"}, {"id": "x", "text": "c"}`),
		`{"course": {"code": "A", "name": "n", "language": "it"}, "exercises": [1, "x", null, {"text": "\u0000"}]}`,
		"{\"exercises\": [{\"text\": \"a\r\nb\"}]}",
		`[{"text": "a"}]`,
		"{\"course\": {\"code\": \"\xff\"}}",
		`{"course": {"code": "A", "name": "n"}, "exercises": [{"text": "a"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parseTwice(t, data, course.Options{Limits: fuzzLimits, Format: course.JSON})
		// Detection by content, with the course given as for JSONL.
		parseTwice(t, data, course.Options{Limits: fuzzLimits, Course: examina.Course{Code: "x", Name: "y"}})
	})
}

func FuzzParseJSONL(f *testing.F) {
	for _, s := range []string{
		"{\"text\": \"a\"}\n{\"text\": \"b\", \"id\": \"b\"}\n",
		"\n\n{\"text\": \"a\", \"number\": \"1\"}\r\n  \n[1]\n{bad\n",
		"{\"id\": \"a#b\", \"text\": \"x\"}\n{\"id\": \"\\t\", \"text\": \" \"}",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parseTwice(t, data, course.Options{Limits: fuzzLimits, Format: course.JSONL, Course: examina.Course{Code: "ADE", Name: "Architettura"}})
	})
}
