package course_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

func TestParseJSON(t *testing.T) {
	input := "\xEF\xBB\xBF{\n" +
		`  "version": 2, "extra": {"ignored": [1, 2]},` + "\n" +
		`  "course": {"code": "ADE", "name": "  Architettura degli elaboratori ", "language": "IT", "year": 2024},` + "\n" +
		`  "exercises": [` + "\n" +
		`    {"number": "1a", "text": "  Convert 13 to binary.\r\nShow the steps.  ", "page": 3, "source": "2023-06.pdf", "unknown": true},` + "\n" +
		`    {"id": "given-id", "number": 7, "text": "Draw the Karnaugh map.", "page": null, "source": null},` + "\n" +
		`    {"number": "  ", "text": "Simplify: è \u00e8 \"quoted\"\n\ttabbed"},` + "\n" +
		`    {"number": null, "id": null, "text": "last"}` + "\n" +
		`  ]` + "\n" +
		`}` + "\n"
	cf, err := course.Parse([]byte(input), "ade.json", course.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantCourse := examina.Course{Code: "ADE", Name: "Architettura degli elaboratori", Language: "it"}
	if cf.Course != wantCourse {
		t.Errorf("course = %+v, want %+v", cf.Course, wantCourse)
	}
	want := []examina.Exercise{
		{ID: course.ExerciseID(wantCourse, 0, "Convert 13 to binary.\nShow the steps."), Number: "1a",
			Text: "Convert 13 to binary.\nShow the steps.", Page: 3, Source: "2023-06.pdf", Position: 0},
		{ID: "given-id", Number: "7", Text: "Draw the Karnaugh map.", Position: 1},
		{ID: course.ExerciseID(wantCourse, 2, "Simplify: è è \"quoted\"\n\ttabbed"), Number: "3",
			Text: "Simplify: è è \"quoted\"\n\ttabbed", Position: 2},
		{ID: course.ExerciseID(wantCourse, 3, "last"), Number: "4", Text: "last", Position: 3},
	}
	if !reflect.DeepEqual(cf.Exercises, want) {
		t.Errorf("exercises =\n%+v\nwant\n%+v", cf.Exercises, want)
	}
	if !strings.HasPrefix(cf.Exercises[0].ID, "ade-000-") || !strings.HasPrefix(cf.Exercises[3].ID, "ade-003-") {
		t.Errorf("generated ids %q, %q", cf.Exercises[0].ID, cf.Exercises[3].ID)
	}
}

func TestParseJSONL(t *testing.T) {
	input := "{\"text\": \"first\", \"number\": 10}\r\n\n   \n" +
		"{\"id\": \"x-2\", \"text\": \"second\\r\\nline\", \"page\": 0, \"whatever\": [1]}\n" +
		"  {\"text\": \" third \"}  "
	cf, err := course.Parse([]byte(input), "ade.jsonl", course.Options{Course: examina.Course{Code: "ade_2024", Name: "ADE"}})
	if err != nil {
		t.Fatal(err)
	}
	c := examina.Course{Code: "ade_2024", Name: "ADE", Language: "en"}
	if cf.Course != c {
		t.Errorf("course = %+v, want %+v", cf.Course, c)
	}
	want := []examina.Exercise{
		{ID: course.ExerciseID(c, 0, "first"), Number: "10", Text: "first", Position: 0},
		{ID: "x-2", Number: "2", Text: "second\nline", Position: 1},
		{ID: course.ExerciseID(c, 2, "third"), Number: "3", Text: "third", Position: 2},
	}
	if !reflect.DeepEqual(cf.Exercises, want) {
		t.Errorf("exercises =\n%+v\nwant\n%+v", cf.Exercises, want)
	}
}

func TestCourseOverride(t *testing.T) {
	input := `{"course": {"code": "not valid!", "name": "File name", "language": 5}, "exercises": [{"text": "a"}]}`
	tests := []struct {
		name     string
		override examina.Course
		want     examina.Course
		problems []string // paths
	}{
		{"no override", examina.Course{}, examina.Course{}, []string{"course.code", "course.language"}},
		{"code and language override", examina.Course{Code: "ADE", Language: "en"},
			examina.Course{Code: "ADE", Name: "File name", Language: "en"}, nil},
		{"everything overridden", examina.Course{Code: "X1", Name: "Other", Language: "it"},
			examina.Course{Code: "X1", Name: "Other", Language: "it"}, nil},
		{"override still validated", examina.Course{Code: "A B", Language: "xx"}, examina.Course{},
			[]string{"course.code", "course.language"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf, err := course.Parse([]byte(input), "c.json", course.Options{Course: tt.override})
			if tt.problems != nil {
				var paths []string
				for _, p := range problems(t, err) {
					paths = append(paths, p.Path)
				}
				if !reflect.DeepEqual(paths, tt.problems) {
					t.Errorf("problem paths %q, want %q", paths, tt.problems)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cf.Course != tt.want {
				t.Errorf("course = %+v, want %+v", cf.Course, tt.want)
			}
		})
	}
}

func TestDetectFormat(t *testing.T) {
	pretty := "{\n  \"course\": {\"code\": \"A\", \"name\": \"n\"},\n  \"exercises\": []\n}"
	compact := `{"course": {"code": "A", "name": "n"}, "exercises": [{"text": "a"}]}`
	lines := "{\"text\": \"a\"}\n{\"text\": \"b\"}\n"
	tests := []struct {
		source, data string
		want         course.Format
	}{
		{"x.json", lines, course.JSON},
		{"dir.d/X.JSON", lines, course.JSON},
		{"x.jsonl", compact, course.JSONL},
		{"s3://bucket/in/x.ndjson", pretty, course.JSONL},
		{"stdin", pretty, course.JSON},
		{"stdin", "\xEF\xBB\xBF \n\t" + pretty, course.JSON},
		{"x.txt", compact, course.JSON},
		{"x.txt", compact + "\n", course.JSON},
		{"", lines, course.JSONL},
		{"", `{"text": "only one"}`, course.JSONL},
		{"", "\n\n" + lines, course.JSONL},
		{"", `{"text": "a", "note": "exercises"}`, course.JSONL},
		{"", "[1, 2]", course.JSONL},
		{"", "", course.JSONL},
		{"", "{\"text\": \"broken\n", course.JSON},
	}
	for _, tt := range tests {
		if got := course.DetectFormat(tt.source, []byte(tt.data)); got != tt.want {
			t.Errorf("DetectFormat(%q, %.30q) = %q, want %q", tt.source, tt.data, got, tt.want)
		}
	}
}

func TestParseDetectsFormat(t *testing.T) {
	opts := course.Options{Course: ade}
	for _, input := range []string{
		"{\"text\": \"a\"}\n{\"text\": \"b\"}\n",
		`{"course": {"code": "ADE", "name": "n"}, "exercises": [{"text": "a"}, {"text": "b"}]}`,
		"{\n \"course\": {\"code\": \"ADE\", \"name\": \"n\"},\n \"exercises\": [{\"text\": \"a\"}, {\"text\": \"b\"}]\n}",
	} {
		cf, err := course.Parse([]byte(input), "upload", opts)
		if err != nil {
			t.Fatalf("%q: %v", input, err)
		}
		if len(cf.Exercises) != 2 || cf.Exercises[1].Text != "b" {
			t.Errorf("%q: exercises %+v", input, cf.Exercises)
		}
	}
}

func TestExerciseID(t *testing.T) {
	c := examina.Course{Code: "ADE", Name: "whatever", Language: "it"}
	text := "Convert 13 to binary."
	id := course.ExerciseID(c, 4, text)
	sum := sha256.Sum256([]byte("ADE|4|" + text))
	if want := "ade-004-" + hex.EncodeToString(sum[:])[:8]; id != want {
		t.Fatalf("ExerciseID = %q, want %q", id, want)
	}
	// A fixed value: ids must not change between versions, or stored results are lost.
	if want := "ade-004-18cc271b"; id != want {
		t.Errorf("ExerciseID = %q, want the recorded %q", id, want)
	}
	if again := course.ExerciseID(c, 4, text); again != id {
		t.Errorf("not stable: %q then %q", id, again)
	}
	if !regexp.MustCompile(`^ade-004-[0-9a-f]{8}$`).MatchString(id) {
		t.Errorf("id %q has the wrong shape", id)
	}
	if got := course.ExerciseID(examina.Course{Code: "ADE", Name: "other"}, 4, text); got != id {
		t.Errorf("name or language changed the id: %q vs %q", got, id)
	}
	others := map[string]string{
		"position":  course.ExerciseID(c, 5, text),
		"text":      course.ExerciseID(c, 4, text+" "),
		"code":      course.ExerciseID(examina.Course{Code: "ADF"}, 4, text),
		"code case": course.ExerciseID(examina.Course{Code: "ade"}, 4, text),
	}
	for what, other := range others {
		if other == id {
			t.Errorf("changing the %s did not change the id %q", what, id)
		}
	}
	if got := course.ExerciseID(c, 1234, "x"); !strings.HasPrefix(got, "ade-1234-") {
		t.Errorf("ExerciseID at 1234 = %q", got)
	}
}

func TestIDsStableAcrossParses(t *testing.T) {
	input := []byte(doc(`{"text": "a"}, {"text": "b"}, {"text": "a"}`))
	first, err := course.Parse(input, "x.json", course.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := course.Parse(input, "x.json", course.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("two parses differ:\n%+v\n%+v", first, second)
	}
	if first.Exercises[0].ID == first.Exercises[2].ID {
		t.Errorf("same text at different positions got the same id %q", first.Exercises[0].ID)
	}
}

func TestLimitsConfigurable(t *testing.T) {
	jsonl := func(texts ...string) []byte {
		var b strings.Builder
		for _, s := range texts {
			b.WriteString(`{"text": "` + s + `"}` + "\n")
		}
		return []byte(b.String())
	}
	tests := []struct {
		name   string
		limits course.Limits
		data   []byte
		fail   string // path of the expected problem, "" for success
	}{
		{"exercises at the limit", course.Limits{MaxExercises: 3}, jsonl("a", "b", "c"), ""},
		{"exercises over the limit", course.Limits{MaxExercises: 3}, jsonl("a", "b", "c", "d"), "exercises"},
		{"text at the limit", course.Limits{MaxExerciseChars: 3}, jsonl("a", "äöü"), ""},
		{"text over the limit", course.Limits{MaxExerciseChars: 3}, jsonl("a", "äöüx"), "exercises[1].text"},
		{"file at the limit", course.Limits{MaxFileBytes: 14}, jsonl("a"), ""},
		{"file over the limit", course.Limits{MaxFileBytes: 13}, jsonl("a"), "file"},
		{"default text limit reached", course.Limits{}, jsonl(strings.Repeat("é", 20_000)), ""},
		{"default text limit passed", course.Limits{}, jsonl(strings.Repeat("é", 20_001)), "exercises[0].text"},
		{"negative limits mean defaults", course.Limits{MaxExercises: -1, MaxExerciseChars: -1, MaxFileBytes: -1}, jsonl("a"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := course.Parse(tt.data, "x.jsonl", course.Options{Limits: tt.limits, Course: ade})
			if tt.fail == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Path != tt.fail {
				t.Errorf("problems %v, want one at %q", ps, tt.fail)
			}
		})
	}
	if d := course.DefaultLimits(); d != (course.Limits{MaxExerciseChars: 20_000, MaxExercises: 5_000, MaxFileBytes: 10 << 20}) {
		t.Errorf("DefaultLimits() = %+v", d)
	}
}

func TestDefaultExerciseLimit(t *testing.T) {
	lines := strings.Repeat("{\"text\": \"x\"}\n", 5001)
	_, err := course.Parse([]byte(lines), "x.jsonl", course.Options{Course: ade})
	ps := problems(t, err)
	if len(ps) != 1 || ps[0].Path != "exercises" || ps[0].Line != 5001 {
		t.Errorf("problems %v", ps)
	}
	cf, err := course.Parse([]byte(lines[:len(lines)-len("{\"text\": \"x\"}\n")]), "x.jsonl", course.Options{Course: ade})
	if err != nil || len(cf.Exercises) != 5000 {
		t.Errorf("5000 exercises: %d, %v", len(cf.Exercises), err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("ade.json", doc(`{"text": "a"}, {"text": "b"}`))
	cf, err := course.ReadFile(good, course.Options{})
	if err != nil || len(cf.Exercises) != 2 || cf.Course.Code != "ADE" {
		t.Fatalf("ReadFile = %+v, %v", cf, err)
	}
	lines := write("ade.jsonl", "{\"text\": \"a\"}\n")
	if cf, err := course.ReadFile(lines, course.Options{Course: ade}); err != nil || len(cf.Exercises) != 1 {
		t.Fatalf("ReadFile jsonl = %+v, %v", cf, err)
	}
	bad := write("bad.json", doc(`{"text": ""}`))
	_, err = course.ReadFile(bad, course.Options{})
	var pe *course.ProblemsError
	if !errors.As(err, &pe) || pe.Source != bad || pe.Problems[0].Path != "exercises[0].text" {
		t.Errorf("bad file: %v", err)
	}

	// A sparse file far over the limit: rejected from its size, without reading it.
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		t.Skip("no sparse files here:", err)
	}
	f.Close()
	_, err = course.ReadFile(big, course.Options{})
	ps := problems(t, err)
	if len(ps) != 1 || ps[0].Path != "file" || !strings.Contains(ps[0].Msg, "1099511627776 bytes, over the limit of 10485760 bytes (10 MiB)") {
		t.Errorf("big file: %v", ps)
	}

	_, err = course.ReadFile(filepath.Join(dir, "missing.json"), course.Options{})
	if examina.KindOf(err) != examina.KindNotFound || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v (kind %v)", err, examina.KindOf(err))
	}
	_, err = course.ReadFile(dir, course.Options{})
	if examina.KindOf(err) != examina.KindInvalid {
		t.Errorf("directory: %v (kind %v)", err, examina.KindOf(err))
	}
}

func TestDecode(t *testing.T) {
	data := doc(`{"text": "a"}`)
	cf, err := course.Decode(strings.NewReader(data), "body", course.Options{})
	if err != nil || len(cf.Exercises) != 1 {
		t.Fatalf("Decode = %+v, %v", cf, err)
	}
	// Larger than the limit: the read stops at limit+1 bytes.
	r := &countingReader{r: strings.NewReader(strings.Repeat(" ", 1000) + data)}
	_, err = course.Decode(r, "body", course.Options{Limits: course.Limits{MaxFileBytes: 100}})
	ps := problems(t, err)
	if len(ps) != 1 || ps[0].Path != "file" || !strings.Contains(ps[0].Msg, "more than 100 bytes") {
		t.Errorf("problems %v", ps)
	}
	if r.n > 101 {
		t.Errorf("read %d bytes, want at most 101", r.n)
	}
	boom := errors.New("connection reset")
	_, err = course.Decode(iotest.ErrReader(boom), "body", course.Options{})
	if !errors.Is(err, boom) {
		t.Errorf("read error not wrapped: %v", err)
	}
	var pe *course.ProblemsError
	if errors.As(err, &pe) {
		t.Errorf("a read error is not a problem of the file: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestEscapedKeys(t *testing.T) {
	input := `{"cour\u0073e": {"code": "ADE", "n\u0061me": "n"}, "exercises": [{"te\u0078t": "escaped \"key\"", "p\u0061ge": 2}]}`
	cf, err := course.Parse([]byte(input), "x.json", course.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ex := cf.Exercises[0]; ex.Text != `escaped "key"` || ex.Page != 2 || cf.Course.Name != "n" {
		t.Errorf("parsed %+v", cf)
	}
}

// TestFieldLengthLimits: every free-form field is bounded at input, with an error
// naming the field and the limit, so no stored item or queue message can outgrow
// DynamoDB's or SQS's limits later.
func TestFieldLengthLimits(t *testing.T) {
	file := func(name, exercise string) []byte {
		return []byte(`{"course": {"code": "ADE", "name": "` + name + `"}, "exercises": [` + exercise + `]}`)
	}
	tests := []struct {
		name string
		data []byte
		path string // "" for success
		msg  string
	}{
		{"name at the limit", file(strings.Repeat("é", 200), `{"text": "t"}`), "", ""},
		{"name over the limit", file(strings.Repeat("é", 201), `{"text": "t"}`), "course.name", "201 characters, over the limit of 200"},
		{"number at the limit", file("n", `{"text": "t", "number": "`+strings.Repeat("9", 32)+`"}`), "", ""},
		{"number over the limit", file("n", `{"text": "t", "number": "`+strings.Repeat("9", 33)+`"}`), "exercises[0].number", "33 characters, over the limit of 32"},
		{"integer number over the limit", file("n", `{"text": "t", "number": `+strings.Repeat("9", 33)+`}`), "exercises[0].number", "33 characters, over the limit of 32"},
		{"source at the limit", file("n", `{"text": "t", "source": "`+strings.Repeat("s", 1000)+`"}`), "", ""},
		{"source over the limit", file("n", `{"text": "t", "source": "`+strings.Repeat("s", 1001)+`"}`), "exercises[0].source", "1001 characters, over the limit of 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := course.Parse(tt.data, "x.json", course.Options{})
			if tt.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Path != tt.path || ps[0].Msg != tt.msg || ps[0].Fix == "" {
				t.Errorf("problems %+v, want one at %q: %q", ps, tt.path, tt.msg)
			}
		})
	}
	// A JSONL course's name comes with the file (the API's ?name=, the CLI's flag).
	_, err := course.Parse([]byte(`{"text": "t"}`), "x.jsonl", course.Options{Course: examina.Course{Code: "ADE", Name: strings.Repeat("x", 201)}})
	if ps := problems(t, err); len(ps) != 1 || ps[0].Path != "course.name" {
		t.Errorf("JSONL course name over the limit: %+v", ps)
	}
}
