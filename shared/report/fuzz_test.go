package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/report"
)

// oneExercise is a document whose only exercise uses s as its text, number, source,
// variation and procedure step, and in the names of its topic and core loop.
func oneExercise(s string) examina.Result {
	a := ok("Topic "+s, "Loop "+s, 0.9, "easy", s)
	a.Procedure = []string{s}
	r := examina.ExerciseResult{Exercise: examina.Exercise{ID: "e1", Number: s, Text: s, Page: 1, Source: s}, Analysis: a}
	job := examina.Job{ID: "fz-0123456789ab", Course: examina.Course{Code: "FZ", Name: s, Language: "en"}, Provider: "openai", Model: s}
	return pipeline.Assemble(job, []examina.ExerciseResult{r}, 0.5)
}

// FuzzReport: whatever the text of a document, it adds no element to the page and no
// line, block or table cell to the Markdown: the output has the structure of a
// harmless text's.
func FuzzReport(f *testing.F) {
	for _, s := range []string{"<script>alert(1)</script>", "a | b", "`code` **bold** [x](y)", "# h", "1. item", "&lt;", "]]></style>", "</script><script>", "x\\|y", "é ü 数"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = strings.Join(strings.Fields(s), " ")
		if s == "" || strings.ContainsRune(s, '\uFFFD') {
			return
		}
		base, err := report.HTMLBytes(oneExercise("plain"))
		if err != nil {
			t.Fatal(err)
		}
		page, err := report.HTMLBytes(oneExercise(s))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := bytes.Count(page, []byte("<")), bytes.Count(base, []byte("<")); got != want {
			t.Fatalf("text %q changes the page's markup: %d '<', a plain text gives %d", s, got, want)
		}
		var mdBase, md bytes.Buffer
		if err := report.Markdown(&mdBase, oneExercise("plain")); err != nil {
			t.Fatal(err)
		}
		if err := report.Markdown(&md, oneExercise(s)); err != nil {
			t.Fatal(err)
		}
		gl, bl := strings.Split(md.String(), "\n"), strings.Split(mdBase.String(), "\n")
		if len(gl) != len(bl) {
			t.Fatalf("text %q changes the Markdown's lines: %d, a plain text gives %d", s, len(gl), len(bl))
		}
		for i := range gl {
			if strings.HasPrefix(bl[i], "|") && cellCount(gl[i]) != cellCount(bl[i]) {
				t.Fatalf("text %q changes a table row's cells: %s", s, gl[i])
			}
			if (bl[i] == "") != (gl[i] == "") || strings.HasPrefix(gl[i], "#") != strings.HasPrefix(bl[i], "#") {
				t.Fatalf("text %q changes the Markdown's blocks at line %d: %q", s, i+1, gl[i])
			}
		}
	})
}
