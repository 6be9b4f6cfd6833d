package report_test

import (
	"bytes"
	"flag"
	htmlpkg "html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMarkdownGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  examina.Result
	}{
		{"ade", adeResult(t)},
		{"edge", edgeResult()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.Markdown(&b, tc.res); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".md.golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./shared/report -run TestMarkdownGolden -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("Markdown differs from %s (go test ./shared/report -run TestMarkdownGolden -update rewrites it):\n%s", golden, firstDiff(got, string(want)))
			}
		})
	}
}

// firstDiff shows the first differing line of got and want.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestRanking(t *testing.T) {
	p := report.Build(edgeResult())
	type row struct {
		name          string
		count, asked  int
		loops, loose  int
		exerciseIDs   []string
		loopExercises []int
	}
	var got []row
	for _, tp := range p.Topics {
		r := row{name: tp.Name, count: tp.ExerciseCount, asked: tp.SessionsAsked, loops: len(tp.CoreLoops), loose: len(tp.Loose)}
		for _, l := range tp.CoreLoops {
			r.loopExercises = append(r.loopExercises, len(l.Exercises))
			for _, it := range l.Exercises {
				r.exerciseIDs = append(r.exerciseIDs, it.ID)
			}
		}
		for _, it := range tp.Loose {
			r.exerciseIDs = append(r.exerciseIDs, it.ID)
		}
		got = append(got, r)
	}
	// Boolean algebra and Number systems both have 3 exercises; Boolean algebra came
	// first in the file. "boolean-algebra" and "Boolean Algebra" fold into it.
	want := []row{
		{"Boolean algebra", 3, 3, 1, 0, []string{"s1-1", "s2-1", "s3-1"}, []int{3}},
		{"Number systems", 3, 3, 1, 0, []string{"s1-2", "s3-2", "x-1"}, []int{3}},
		{"Caches", 1, 1, 0, 1, []string{"s1-3"}, nil},
		{"Without a topic", 1, 1, 1, 0, []string{"s2-2"}, []int{1}},
	}
	if len(got) != len(want) {
		t.Fatalf("topics = %+v\nwant %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || g.count != w.count || g.asked != w.asked || g.loops != w.loops || g.loose != w.loose ||
			!slices.Equal(g.exerciseIDs, w.exerciseIDs) || !slices.Equal(g.loopExercises, w.loopExercises) {
			t.Errorf("topic %d = %+v\nwant %+v", i+1, g, w)
		}
		if p.Topics[i].Rank != i+1 || p.Topics[i].Anchor != "topic-"+itoa(i+1) {
			t.Errorf("topic %d: rank %d anchor %q", i+1, p.Topics[i].Rank, p.Topics[i].Anchor)
		}
	}
	// Merged fragments are one item: numbers joined, pages spanned, both ids kept.
	k := p.Topics[0].CoreLoops[0]
	first := k.Exercises[0]
	if first.Number != "1 + 1b" || first.Pages != "1–2" || !slices.Equal(first.Members, []string{"s1-1", "s1-1b"}) || first.Parts() != 2 {
		t.Errorf("merged item = %+v", first)
	}
	if !slices.Equal(k.Variations, []string{"don't care conditions", "product of sums"}) {
		t.Errorf("variations = %q", k.Variations)
	}
	ns := p.Topics[1].CoreLoops[0]
	if !slices.Equal(ns.Variations, []string{"two's complement", "hexadecimal"}) {
		t.Errorf("variations are not deduplicated case-insensitively: %q", ns.Variations)
	}
	if len(k.Procedure) != 3 || k.ID != "karnaugh_minimisation" || k.Name != "Karnaugh minimisation" {
		t.Errorf("core loop = %+v", k)
	}
}

// TestRankingTieBreak: equal exercise counts are ordered by the sessions that asked
// the topic, then by the document's order.
func TestRankingTieBreak(t *testing.T) {
	res := examina.Result{
		MinConfidence: 0.5,
		Topics: []examina.Topic{
			{Name: "A", ExerciseCount: 2, CoreLoops: []string{"a"}},
			{Name: "B", ExerciseCount: 2, CoreLoops: []string{"b"}},
			{Name: "C", ExerciseCount: 1, CoreLoops: []string{"c"}},
		},
		CoreLoops: []examina.CoreLoop{
			{ID: "a", Name: "a", Topic: "A", ExerciseCount: 2, Exercises: []string{"1", "2"}},
			{ID: "b", Name: "b", Topic: "B", ExerciseCount: 2, Exercises: []string{"3", "4"}},
			{ID: "c", Name: "c", Topic: "C", ExerciseCount: 1, Exercises: []string{"5"}},
		},
	}
	src := []string{"s1", "s1", "s1", "s2", "s2"}
	topic := []string{"A", "A", "B", "B", "C"}
	loop := []string{"a", "a", "b", "b", "c"}
	for i := range 5 {
		id := itoa(i + 1)
		a := examina.Analysis{IsValidExercise: true, Topic: topic[i], CoreLoopName: loop[i], CoreLoopID: loop[i], Confidence: 0.9}
		res.Exercises = append(res.Exercises, examina.ExerciseResult{Exercise: examina.Exercise{ID: id, Source: src[i], Position: i}, Analysis: a})
		res.MergedExercises = append(res.MergedExercises, examina.MergedExercise{ID: id, Position: i, MergedFrom: []string{id}, Analysis: a})
	}
	p := report.Build(res)
	var names []string
	for _, tp := range p.Topics {
		names = append(names, tp.Name)
	}
	if !slices.Equal(names, []string{"B", "A", "C"}) {
		t.Errorf("ranking = %q, want B (2 exercises, 2 sessions) before A (2 exercises, 1 session)", names)
	}
}

func TestHeatMap(t *testing.T) {
	p := report.Build(edgeResult())
	var labels []string
	for _, s := range p.Sessions {
		labels = append(labels, s.Label)
	}
	if want := []string{"EDG 2024-06-12", "EDG 2024-09-14", "EDG 2025-01-20", "no source"}; !slices.Equal(labels, want) {
		t.Fatalf("sessions = %q, want %q", labels, want)
	}
	if !p.HasSources {
		t.Error("HasSources = false")
	}
	type cells []int
	want := map[string]struct {
		counts, levels cells
		total, asked   int
	}{
		"Boolean algebra": {cells{1, 1, 1, 0}, cells{4, 4, 4, 0}, 3, 3},
		"Number systems":  {cells{1, 0, 1, 1}, cells{4, 0, 4, 4}, 3, 3},
		"Caches":          {cells{1, 0, 0, 0}, cells{4, 0, 0, 0}, 1, 1},
		"Without a topic": {cells{0, 1, 0, 0}, cells{0, 4, 0, 0}, 1, 1},
	}
	if len(p.Heat) != len(want) {
		t.Fatalf("%d heat rows, want %d", len(p.Heat), len(want))
	}
	for i, r := range p.Heat {
		w, found := want[r.Topic]
		if !found || r.Anchor != p.Topics[i].Anchor {
			t.Errorf("row %d = %q (anchor %q)", i, r.Topic, r.Anchor)
			continue
		}
		var counts, levels cells
		for _, c := range r.Cells {
			counts = append(counts, c.Count)
			levels = append(levels, c.Level)
		}
		if !slices.Equal(counts, w.counts) || !slices.Equal(levels, w.levels) || r.Total != w.total || r.Asked != w.asked {
			t.Errorf("%s: counts %v levels %v total %d asked %d; want %v %v %d %d", r.Topic, counts, levels, r.Total, r.Asked, w.counts, w.levels, w.total, w.asked)
		}
	}
}

// TestHeatMapMatchesTheDocument: the report places every merged exercise where the
// merge counted it, so each topic's row adds up to the document's exercise count.
func TestHeatMapMatchesTheDocument(t *testing.T) {
	for name, res := range map[string]examina.Result{"ade": adeResult(t), "edge": edgeResult()} {
		p := report.Build(res)
		for i, r := range p.Heat {
			if r.Total != p.Topics[i].ExerciseCount {
				t.Errorf("%s: topic %q has %d exercises in the heat map, the document counts %d", name, r.Topic, r.Total, p.Topics[i].ExerciseCount)
			}
		}
		placed := len(p.Degraded) + len(p.LowConfidence) + len(p.Unclassified)
		for _, r := range p.Heat {
			placed += r.Total
		}
		if placed != len(res.MergedExercises) {
			t.Errorf("%s: %d merged exercises placed, the document has %d", name, placed, len(res.MergedExercises))
		}
		if len(p.Dropped) != res.Stats.Invalid {
			t.Errorf("%s: %d dropped, the document says %d invalid", name, len(p.Dropped), res.Stats.Invalid)
		}
	}
}

func TestListedApart(t *testing.T) {
	p := report.Build(edgeResult())
	check := func(what string, fs []report.Flagged, ids []string, reason string) {
		t.Helper()
		var got []string
		for _, f := range fs {
			got = append(got, f.ID)
			if !strings.Contains(f.Reason, reason) {
				t.Errorf("%s %s: reason %q does not say %q", what, f.ID, f.Reason, reason)
			}
		}
		if !slices.Equal(got, ids) {
			t.Errorf("%s = %q, want %q", what, got, ids)
		}
	}
	check("degraded", p.Degraded, []string{"s2-3"}, `analysis failed after 3 attempts: openai: HTTP 429: "Rate limit reached`)
	check("low confidence", p.LowConfidence, []string{"s2-4"}, "confidence 0.30 is below the threshold 0.50")
	check("unclassified", p.Unclassified, []string{"s3-3"}, "no topic and no core loop")
	check("dropped", p.Dropped, []string{"s1-h"}, "not an exercise")
	if p.LowConfidence[0].Topic != "Vague things" {
		t.Errorf("low-confidence suggestion = %q", p.LowConfidence[0].Topic)
	}
	for _, tp := range p.Topics {
		if tp.Name == "Vague things" {
			t.Error("a low-confidence topic is in the ranking")
		}
	}
}

func TestOffline(t *testing.T) {
	if p := report.Build(adeResult(t)); !p.Offline {
		t.Error("the offline fixture is not reported as the offline heuristic")
	}
	if p := report.Build(edgeResult()); p.Offline {
		t.Error("an openai result is reported as offline")
	}
	res := edgeResult()
	res.Provider = "simulated"
	res.Exercises[1].Analysis.Heuristic = true
	if !report.IsOffline(res) {
		t.Error("a heuristic analysis is not reported as offline")
	}
	var md bytes.Buffer
	if err := report.Markdown(&md, adeResult(t)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "**offline heuristic**") {
		t.Error("the Markdown does not say offline heuristic")
	}
	html, err := report.HTMLBytes(adeResult(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte(`<span class="badge offline">offline heuristic</span>`)) {
		t.Error("the HTML does not say offline heuristic")
	}
}

func TestEmptyDocument(t *testing.T) {
	res := examina.Result{JobID: "x-000000000000", Course: examina.Course{Code: "X", Name: "Nothing"}}
	p := report.Build(res)
	if len(p.Topics) != 0 || len(p.Heat) != 0 || p.HasSources {
		t.Errorf("page of an empty document = %+v", p)
	}
	var md bytes.Buffer
	if err := report.Markdown(&md, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "No topic") {
		t.Errorf("empty Markdown does not say there is no topic:\n%s", md.String())
	}
	if _, err := report.HTMLBytes(res); err != nil {
		t.Fatal(err)
	}
}

func TestHTMLEscapesAndIsSelfContained(t *testing.T) {
	res := edgeResult()
	page, err := report.HTMLBytes(res)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	if strings.Contains(html, "<script>alert") || strings.Contains(html, "Edge <cases>") {
		t.Error("document text reached the page unescaped")
	}
	for _, want := range []string{"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", "Edge &lt;cases&gt; &amp; more"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks the escaped text %q", want)
		}
	}
	if n := strings.Count(html, "<script"); n != 1 {
		t.Errorf("%d script elements, want exactly the page's own", n)
	}
	// Nothing refers outside the file: every src/href is a fragment.
	for _, m := range regexp.MustCompile(`(?i)\b(src|href|action|srcset|poster|data)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(html, -1) {
		if !strings.HasPrefix(m[2], "#") {
			t.Errorf("attribute %s=%q refers outside the page", m[1], m[2])
		}
	}
	if strings.Contains(html, "<link") || strings.Contains(html, "@import") || strings.Contains(html, "url(") {
		t.Error("the page loads a stylesheet or a resource")
	}
	// The CSP admits exactly the inline style and script, by hash.
	css := between(t, html, "<style>", "</style>")
	js := between(t, html, "<script>", "</script>")
	csp := between(t, html, `http-equiv="Content-Security-Policy" content="`, `"`)
	if want := report.CSP(css, js); htmlpkg.UnescapeString(csp) != want {
		t.Errorf("CSP = %q\nwant %q (hashes of the emitted style and script)", csp, want)
	}
	if !strings.Contains(csp, "default-src &#39;none&#39;") {
		t.Errorf("CSP does not forbid everything by default: %q", csp)
	}
}

func TestHTMLAccessibility(t *testing.T) {
	html := string(must(report.HTMLBytes(edgeResult())))
	for _, want := range []string{
		`<html lang="en">`, `<meta name="viewport"`, `<header class="band">`, `<nav class="toc" aria-label="Contents">`,
		`<main id="main"`, `<footer class="foot">`, `<a class="skip" href="#main">`, `<h1>`, `<h2 id="figures">`,
		`<th scope="col">Topic</th>`, `<th scope="row">`, `<caption>`, `lang="en"`, `@media print`, `@media (max-width:44rem)`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(html, "<h1") != 1 {
		t.Error("want exactly one h1")
	}
	// Every header cell says what it heads.
	if n := len(regexp.MustCompile(`<th(\s[^>]*)?>`).FindAllString(html, -1)); n != strings.Count(html, `<th scope=`) {
		t.Errorf("%d th elements, %d with scope", n, strings.Count(html, `<th scope=`))
	}
	// No style attributes: the CSP would block them, and colours must come from the
	// checked palette.
	if strings.Contains(html, " style=") {
		t.Error("the page uses a style attribute")
	}
}

func TestPaletteContrast(t *testing.T) {
	for _, c := range report.Palette() {
		r, err := report.ContrastRatio(c.FG, c.BG)
		if err != nil {
			t.Fatal(err)
		}
		// WCAG 2 AA for normal text.
		if r < 4.5 {
			t.Errorf("%s: %s on %s has contrast %.2f:1, want at least 4.5:1", c.Name, c.FG, c.BG, r)
		}
	}
	if r, _ := report.ContrastRatio("#000000", "#ffffff"); r < 20.99 || r > 21.01 {
		t.Errorf("black on white = %.3f, want 21", r)
	}
	if _, err := report.ContrastRatio("#12345", "#ffffff"); err == nil {
		t.Error("a malformed colour was accepted")
	}
}

func TestMarkdownEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := report.Markdown(&b, edgeResult()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if strings.Contains(md, "<script>") || regexp.MustCompile(`(^|[^\\])\]\(`).MatchString(md) || strings.Contains(md, "Edge <cases>") {
		t.Error("document text reached the Markdown unescaped")
	}
	for _, want := range []string{`\<script\>alert('x')\</script\>`, `13 \| 7`, `\*binary\*`, `\&`, `\[hex\]`, `\# not a heading`, `1\. not a list`, `Edge \<cases\> \& more`} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	// Every table row has as many cells as its header.
	lines := strings.Split(md, "\n")
	cols := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "|") {
			cols = 0
			continue
		}
		n := cellCount(l)
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("table row has %d cells, its header %d: %s", n, cols, l)
		}
	}
	// A procedure step starting with "1." stays a step's text, not a nested list.
	if !strings.Contains(md, "2. 1\\. Apply \\*the\\* rule") {
		t.Error("a procedure step that starts like a list item is not escaped")
	}
}

// cellCount counts the cells of a GitHub table row: unescaped pipes minus one.
func cellCount(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n - 1
}

func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("no %q in the page", from)
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		t.Fatalf("no %q after %q", to, from)
	}
	return s[:j]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
