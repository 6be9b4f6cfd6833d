package report

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Markdown writes the report of res as CommonMark with GitHub tables: the same content
// as the HTML page. Every text of the document is escaped, so no exercise can add
// markup, HTML or a table cell.
func Markdown(w io.Writer, res examina.Result) error {
	var b bytes.Buffer
	writeMarkdown(&b, Build(res))
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("report: writing Markdown: %w", err)
	}
	return nil
}

func writeMarkdown(b *bytes.Buffer, p Page) {
	pf := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	nSessions := len(p.Sessions)

	pf("# %s — %s: course map\n\n", md(p.Course.Code), md(p.Course.Name))
	if p.Offline {
		pf("> **Offline heuristic.** No language model read these exercises: topics come from the course's own recurring phrases and procedures from each exercise's sub-questions. Run `examina analyze` with a provider for a real analysis.\n\n")
		pf("- Analysis: **offline heuristic** (provider %s, model %s)\n", code(p.Provider), code(p.Model))
	} else {
		pf("- Analysis: LLM, provider %s, model %s\n", code(p.Provider), code(p.Model))
	}
	pf("- Job: %s\n", code(p.JobID))
	if p.PromptVersion != "" {
		pf("- Prompt version: %s\n", code(p.PromptVersion))
	}
	var sources []string
	for _, s := range p.Sessions {
		sources = append(sources, md(s.Label))
	}
	pf("- Exams: %d (%s)\n\n", nSessions, strings.Join(sources, ", "))

	pf("## The run in figures\n\n| Figure | Value |\n|---|---:|\n")
	st := p.Stats
	rows := []struct {
		k string
		v string
	}{
		{"Exercises in the file", strconv.Itoa(st.Exercises)},
		{"Merged exercises", strconv.Itoa(st.MergedGroups)},
		{"Topics", strconv.Itoa(len(p.Topics))},
		{"Core loops", strconv.Itoa(p.CoreLoops)},
		{"Not exercises (dropped)", strconv.Itoa(st.Invalid)},
		{"Degraded", strconv.Itoa(st.Degraded)},
		{"Low confidence (below " + confStr(p.MinConfidence) + ")", strconv.Itoa(st.LowConfidenceSkipped)},
		{"Provider calls", fmt.Sprintf("%d (%d retries)", st.ProviderCalls, st.Retries)},
		{"Cache hits", strconv.Itoa(st.CacheHits)},
		{"Tokens in", thousands(st.InputTokens)},
		{"Tokens out", thousands(st.OutputTokens)},
		{"Elapsed", duration(st.ElapsedMS)},
	}
	for _, r := range rows {
		pf("| %s | %s |\n", r.k, md(r.v))
	}
	b.WriteString("\n")

	pf("## Topics by how often the exams ask them\n\n")
	if len(p.Topics) == 0 {
		pf("No topic: no merged exercise reached the confidence threshold (%s).\n\n", confStr(p.MinConfidence))
	} else {
		pf("| # | Topic | Exercises | Exams |\n|---:|---|---:|---:|\n")
		for _, t := range p.Topics {
			pf("| %d | %s | %d | %d of %d |\n", t.Rank, md(t.Name), t.ExerciseCount, t.SessionsAsked, nSessions)
		}
		b.WriteString("\n")
	}

	pf("## Which exam asked what\n\n")
	if !p.HasSources {
		pf("The course file names no source for its exercises, so they all fall in one column.\n\n")
	}
	if len(p.Heat) == 0 {
		pf("Nothing to show: no topic.\n\n")
	} else {
		pf("Exercises of each topic in each exam session (**bold**: the most any exam asked); the last column says in how many exams the topic came up.\n\n")
		pf("| Topic |")
		for _, s := range p.Sessions {
			pf(" %s |", md(s.Label))
		}
		pf(" Exams |\n|---|")
		for range p.Sessions {
			pf(":-:|")
		}
		pf(":-:|\n")
		for _, r := range p.Heat {
			pf("| %s |", md(r.Topic))
			for _, c := range r.Cells {
				switch {
				case c.Count == 0:
					pf(" · |")
				case c.Level == HeatLevels:
					pf(" **%d** |", c.Count)
				default:
					pf(" %d |", c.Count)
				}
			}
			pf(" %d/%d |\n", r.Asked, nSessions)
		}
		b.WriteString("\n")
	}

	pf("## Topics\n\n")
	for _, t := range p.Topics {
		pf("### %d. %s\n\n", t.Rank, md(t.Name))
		pf("%s · asked in %d of %d exams · %s\n\n", plural(t.ExerciseCount, "exercise", "exercises"), t.SessionsAsked, nSessions,
			plural(len(t.CoreLoops), "core loop", "core loops"))
		for _, l := range t.CoreLoops {
			pf("#### %s\n\nCore loop %s · %s\n\n", md(l.Name), code(l.ID), plural(len(l.Exercises), "exercise", "exercises"))
			if len(l.Procedure) > 0 {
				pf("Procedure:\n\n")
				for i, s := range l.Procedure {
					pf("%d. %s\n", i+1, md(s))
				}
				b.WriteString("\n")
			}
			if len(l.Variations) > 0 {
				var vs []string
				for _, v := range l.Variations {
					vs = append(vs, md(v))
				}
				pf("Variations: %s\n\n", strings.Join(vs, "; "))
			}
			if len(l.Exercises) > 0 {
				mdExercises(b, l.Exercises)
			}
		}
		if len(t.Loose) > 0 {
			pf("#### Exercises without a core loop\n\n")
			mdExercises(b, t.Loose)
		}
	}

	pf("## Listed apart\n\nThese exercises count towards no topic and are never mixed into the map above.\n\n")
	apart := func(title string, fs []Flagged, always bool) {
		if len(fs) == 0 && !always {
			return
		}
		pf("### %s (%d)\n\n", title, len(fs))
		if len(fs) == 0 {
			pf("None.\n\n")
			return
		}
		pf("| No. | Exam | Page | Text (first lines) | Why it is apart |\n|---|---|---|---|---|\n")
		for _, f := range fs {
			why := md(f.Reason)
			if f.Topic != "" {
				why += " (suggested topic: " + md(f.Topic) + ")"
			}
			pf("| %s | %s | %s | %s | %s |\n", cell(f.Number), cell(f.Source), cell(f.Pages), excerptCell(f.Item), why)
		}
		b.WriteString("\n")
	}
	apart("Degraded: the analysis failed", p.Degraded, true)
	apart("Low confidence", p.LowConfidence, true)
	apart("Unclassified", p.Unclassified, false)
	apart("Not exercises, dropped by the merge", p.Dropped, true)
	pf("---\n\nMade by `examina report` from job %s.\n", code(p.JobID))
}

func mdExercises(b *bytes.Buffer, items []Item) {
	b.WriteString("| No. | Exam | Page | Text (first lines) | Difficulty |\n|---|---|---|---|---|\n")
	for _, it := range items {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", cell(it.Number), cell(it.Source), cell(it.Pages), excerptCell(it), cell(it.Difficulty))
	}
	b.WriteString("\n")
}

// excerptCell is an item's first lines joined by <br>, with its id or merged parts.
func excerptCell(it Item) string {
	var lines []string
	for _, l := range it.Excerpt {
		lines = append(lines, md(l))
	}
	s := strings.Join(lines, "<br>")
	if it.Parts() > 1 {
		var ids []string
		for _, id := range it.Members {
			ids = append(ids, code(id))
		}
		s += "<br>*" + strconv.Itoa(it.Parts()) + " fragments merged:* " + strings.Join(ids, ", ")
	} else {
		s += "<br>" + code(it.ID)
	}
	return strings.TrimPrefix(s, "<br>")
}

// cell is a table cell: escaped text, or a dash when empty.
func cell(s string) string {
	if strings.TrimSpace(s) == "" {
		return "–"
	}
	return md(s)
}

// mdSpecial are the characters escaped with a backslash wherever they appear: those
// that start emphasis, code, links, HTML, entities, strike-through and table cells.
const mdSpecial = "\\`*_[]<>|~&!"

// lineStart matches what would make a line a heading, list item, quote or rule.
var lineStart = regexp.MustCompile(`^(#|>|[-+]|=+|[0-9]+[.)])`)

// md escapes s as inline Markdown text: whitespace (newlines included) collapsed to
// single spaces, Markdown's special characters backslash-escaped, and a start that
// would read as block syntax escaped too.
func md(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && strings.ContainsRune(mdSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if m := lineStart.FindStringIndex(out); m != nil {
		// Escape the last character of the marker: "1." → "1\.", "#" → "\#".
		i := m[1] - 1
		out = out[:i] + "\\" + out[i:]
	}
	return out
}

// code is s as a code span, with a fence longer than any backtick run in s.
func code(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "–"
	}
	s = strings.ReplaceAll(s, "|", `\|`) // a GitHub table ends a cell at a pipe, even in code
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func confStr(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
