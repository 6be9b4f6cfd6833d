package report

import (
	"cmp"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/merge"
)

// Excerpt bounds: the first lines of an exercise's text shown in the page.
const (
	excerptLines = 3
	excerptRunes = 280
)

// HeatLevels is the number of shades of the heat map above "never asked" (level 0).
const HeatLevels = 4

// Page is the view of a result document that both renderers draw.
type Page struct {
	Course        examina.Course
	JobID         string
	Provider      string
	Model         string
	PromptVersion string
	// Offline is true when the analyses came from the offline heuristic (no LLM).
	Offline bool
	// MinConfidence is the threshold a merged exercise needed to count in a topic.
	MinConfidence float64
	Stats         examina.Stats
	// Topics are ranked: most exercises first, then most exam sessions, then the
	// document's order.
	Topics []TopicView
	// CoreLoops is the number of distinct core loops of the document.
	CoreLoops int
	// Sessions are the heat map's columns, in the order the course file first
	// mentions them.
	Sessions []Session
	// Heat has one row per topic, in the order of Topics.
	Heat []HeatRow
	// HasSources is false when no exercise names its source: the heat map then has a
	// single "no source" column and says so.
	HasSources bool
	// Degraded are merged exercises whose analysis failed (default analysis).
	Degraded []Flagged
	// LowConfidence are merged exercises below MinConfidence (not degraded).
	LowConfidence []Flagged
	// Unclassified are merged exercises above the threshold that name no topic and
	// no core loop.
	Unclassified []Flagged
	// Dropped are the exercises the analysis judged not to be exercises (headers,
	// instructions, footers); they are in no merged exercise.
	Dropped []Flagged
}

// Session is an exam session: the source the exercises were extracted from.
type Session struct {
	Source string // as the course file gives it ("" for none)
	Label  string // the source without directory and extension, or "no source"
	Groups int    // merged exercises of this session (all of them, counted or not)
}

// TopicView is one ranked topic.
type TopicView struct {
	Rank          int
	Name          string
	Anchor        string // the HTML id of its section
	ExerciseCount int    // as the document counts it
	SessionsAsked int    // sessions with at least one of its exercises
	CoreLoops     []LoopView
	// Loose are the topic's exercises that belong to no core loop.
	Loose []Item
}

// LoopView is a core loop as it appears under one topic.
type LoopView struct {
	ID         string
	Name       string
	Anchor     string
	Procedure  []string
	Variations []string // of its exercises under this topic, first seen first, no repeats
	Exercises  []Item   // its exercises under this topic, in exam order
}

// Item is one merged exercise: fragments merged into it are shown as one.
type Item struct {
	ID         string   // the merged exercise's id (its first member's)
	Members    []string // every exercise id merged into it, the first included
	Number     string   // the members' numbers joined with " + "
	Source     string   // the exam file of its first member
	Session    int      // index into Page.Sessions
	Pages      string   // "3" or "3–4"; "" when unknown
	Excerpt    []string // the first lines of its text
	Truncated  bool     // the excerpt leaves text out
	Difficulty string
	Confidence float64
	Status     examina.Status
}

// Parts is how many exercises (fragments) were merged into it.
func (it Item) Parts() int { return len(it.Members) }

// Flagged is an exercise listed apart, with the reason.
type Flagged struct {
	Item
	Topic  string // the topic the analysis suggested, if any
	Reason string
}

// HeatRow is one topic's row of the heat map.
type HeatRow struct {
	Topic  string
	Anchor string
	Cells  []HeatCell // one per session
	Total  int
	Asked  int // sessions with a non-zero cell
}

// HeatCell is how many of a topic's exercises one session asked, and its shade.
type HeatCell struct {
	Count int
	Level int // 0 (never) .. HeatLevels (the most any cell has)
}

// Build derives the page of res. It never fails: a document with nothing in it gives
// an empty page that says so.
//
// A merged exercise is assigned to a topic as the merge aggregated it: only when its
// confidence reaches the document's threshold; its core loop is the one whose exercise
// list holds its id; its topic is the document's topic whose name is most similar to
// the one the analysis gave (merge.Similarity, the measure the merge folds names with),
// among the topics that list its core loop when it has one.
func Build(res examina.Result) Page {
	p := Page{
		Course:        res.Course,
		JobID:         res.JobID,
		Provider:      res.Provider,
		Model:         res.Model,
		PromptVersion: res.PromptVersion,
		Offline:       IsOffline(res),
		MinConfidence: res.MinConfidence,
		Stats:         res.Stats,
		CoreLoops:     len(res.CoreLoops),
	}
	if p.MinConfidence <= 0 || math.IsNaN(p.MinConfidence) {
		p.MinConfidence = merge.DefaultMinConfidence
	}

	exercises := slices.Clone(res.Exercises)
	slices.SortStableFunc(exercises, func(a, b examina.ExerciseResult) int { return cmp.Compare(a.Position, b.Position) })
	byID := make(map[string]*examina.ExerciseResult, len(exercises))
	sessionOf := map[string]int{}
	addSession := func(src string) int {
		if i, ok := sessionOf[src]; ok {
			return i
		}
		sessionOf[src] = len(p.Sessions)
		p.Sessions = append(p.Sessions, Session{Source: src, Label: sessionLabel(src)})
		return len(p.Sessions) - 1
	}
	for i := range exercises {
		e := &exercises[i]
		if _, dup := byID[e.ID]; !dup {
			byID[e.ID] = e
		}
		if e.Source != "" {
			p.HasSources = true
		}
	}

	groups := slices.Clone(res.MergedExercises)
	slices.SortStableFunc(groups, func(a, b examina.MergedExercise) int { return cmp.Compare(a.Position, b.Position) })
	items := make([]Item, len(groups))
	for i, g := range groups {
		items[i] = newItem(g, byID)
		items[i].Session = addSession(items[i].Source)
		p.Sessions[items[i].Session].Groups++
	}
	for _, e := range exercises {
		if !e.Analysis.IsValidExercise {
			it := itemOf(e)
			it.Session = addSession(e.Source)
			p.Dropped = append(p.Dropped, Flagged{Item: it, Reason: "not an exercise (a header, instructions or a page footer): dropped by the merge"})
		}
	}

	loopOf := map[string]int{} // merged exercise id -> index in res.CoreLoops
	for li, l := range res.CoreLoops {
		for _, id := range l.Exercises {
			if _, ok := loopOf[id]; !ok {
				loopOf[id] = li
			}
		}
	}

	// Per topic (index in res.Topics, or len for "no topic"), per core loop (index in
	// res.CoreLoops, -1 for none): the items, in exam order.
	noTopic := len(res.Topics)
	type cell struct{ topic, loop int }
	placed := map[cell][]int{}
	loopOrder := make([][]int, len(res.Topics)+1) // loops per topic, first seen first
	for gi, g := range groups {
		a := g.Analysis
		it := items[gi]
		switch {
		case a.Status == examina.StatusDegraded:
			reason := strings.TrimSpace(a.Error)
			if reason == "" {
				reason = "every attempt to analyse it failed"
			}
			failed := "analysis failed"
			if a.Attempts > 0 {
				failed += " after " + attempts(a.Attempts)
			}
			p.Degraded = append(p.Degraded, Flagged{Item: it, Reason: failed + ": " + reason})
			continue
		case !(a.Confidence >= p.MinConfidence):
			p.LowConfidence = append(p.LowConfidence, Flagged{Item: it, Topic: strings.TrimSpace(a.Topic),
				Reason: fmt.Sprintf("confidence %.2f is below the threshold %.2f: it counts towards no topic", a.Confidence, p.MinConfidence)})
			continue
		}
		li, hasLoop := loopOf[g.ID]
		ti := topicOf(a.Topic, li, hasLoop, res)
		if ti < 0 && !hasLoop {
			p.Unclassified = append(p.Unclassified, Flagged{Item: it, Reason: "the analysis named no topic and no core loop"})
			continue
		}
		if ti < 0 {
			ti = noTopic
		}
		if !hasLoop {
			li = -1
		}
		c := cell{ti, li}
		if _, seen := placed[c]; !seen && li >= 0 {
			loopOrder[ti] = append(loopOrder[ti], li)
		}
		placed[c] = append(placed[c], gi)
	}

	topicIdx := make([]int, 0, len(res.Topics)+1)
	for ti := range res.Topics {
		topicIdx = append(topicIdx, ti)
	}
	if len(loopOrder[noTopic]) > 0 || len(placed[cell{noTopic, -1}]) > 0 {
		topicIdx = append(topicIdx, noTopic)
	}
	views := make([]TopicView, 0, len(topicIdx))
	for _, ti := range topicIdx {
		var v TopicView
		if ti == noTopic {
			v.Name = "Without a topic"
		} else {
			t := res.Topics[ti]
			v.Name = strings.TrimSpace(t.Name)
			v.ExerciseCount = t.ExerciseCount
			// Loops the topic lists but no placed exercise reached still appear.
			for _, id := range t.CoreLoops {
				if li := loopIndex(res.CoreLoops, id); li >= 0 && !slices.Contains(loopOrder[ti], li) {
					loopOrder[ti] = append(loopOrder[ti], li)
				}
			}
		}
		asked := map[int]bool{}
		count := 0
		for _, li := range loopOrder[ti] {
			l := res.CoreLoops[li]
			lv := LoopView{ID: l.ID, Name: strings.TrimSpace(l.Name), Procedure: l.Procedure}
			if lv.Name == "" {
				lv.Name = l.ID
			}
			for _, gi := range placed[cell{ti, li}] {
				lv.Exercises = append(lv.Exercises, items[gi])
				lv.Variations = appendUnique(lv.Variations, groups[gi].Analysis.Variations)
				asked[items[gi].Session] = true
				count++
			}
			v.CoreLoops = append(v.CoreLoops, lv)
		}
		for _, gi := range placed[cell{ti, -1}] {
			v.Loose = append(v.Loose, items[gi])
			asked[items[gi].Session] = true
			count++
		}
		if ti == noTopic {
			v.ExerciseCount = count
		}
		v.SessionsAsked = len(asked)
		views = append(views, v)
	}
	// The document orders topics by exercise count; sessions break its ties.
	slices.SortStableFunc(views, func(a, b TopicView) int {
		if c := cmp.Compare(b.ExerciseCount, a.ExerciseCount); c != 0 {
			return c
		}
		return cmp.Compare(b.SessionsAsked, a.SessionsAsked)
	})
	for i := range views {
		views[i].Rank = i + 1
		views[i].Anchor = "topic-" + strconv.Itoa(i+1)
		for j := range views[i].CoreLoops {
			views[i].CoreLoops[j].Anchor = views[i].Anchor + "-loop-" + strconv.Itoa(j+1)
		}
	}
	p.Topics = views
	p.Heat = heatRows(views, len(p.Sessions))
	return p
}

// IsOffline reports whether res was analysed by the offline heuristic rather than an
// LLM: its provider is "offline", or an analysis says it is heuristic.
func IsOffline(res examina.Result) bool {
	if strings.EqualFold(res.Provider, "offline") {
		return true
	}
	for _, e := range res.Exercises {
		if e.Analysis.Heuristic {
			return true
		}
	}
	return false
}

// heatRows counts each topic's exercises per session and shades the cells relative to
// the largest cell.
func heatRows(topics []TopicView, sessions int) []HeatRow {
	rows := make([]HeatRow, len(topics))
	most := 0
	for i, t := range topics {
		r := HeatRow{Topic: t.Name, Anchor: t.Anchor, Cells: make([]HeatCell, sessions)}
		add := func(items []Item) {
			for _, it := range items {
				r.Cells[it.Session].Count++
				r.Total++
			}
		}
		for _, l := range t.CoreLoops {
			add(l.Exercises)
		}
		add(t.Loose)
		for _, c := range r.Cells {
			if c.Count > 0 {
				r.Asked++
			}
			most = max(most, c.Count)
		}
		rows[i] = r
	}
	for i := range rows {
		for j := range rows[i].Cells {
			rows[i].Cells[j].Level = heatLevel(rows[i].Cells[j].Count, most)
		}
	}
	return rows
}

// heatLevel is the shade of a cell of count n when the largest cell has most: 0 for
// none, otherwise ceil(HeatLevels·n/most), so the largest cell has HeatLevels.
func heatLevel(n, most int) int {
	if n <= 0 || most <= 0 {
		return 0
	}
	return min(HeatLevels, (HeatLevels*n+most-1)/most)
}

// topicOf returns the index in res.Topics of the topic a merged exercise with topic
// name counted towards, or -1 when it names none. With a core loop (li, hasLoop) only
// topics listing that loop are candidates, unless none does.
func topicOf(name string, li int, hasLoop bool, res examina.Result) int {
	if strings.TrimSpace(name) == "" || len(res.Topics) == 0 {
		return -1
	}
	best, bestScore := -1, -1.0
	pick := func(onlyLoop bool) {
		for ti, t := range res.Topics {
			if onlyLoop && !slices.Contains(t.CoreLoops, res.CoreLoops[li].ID) {
				continue
			}
			if s := merge.Similarity(name, t.Name); s > bestScore {
				best, bestScore = ti, s
			}
		}
	}
	if hasLoop {
		pick(true)
	}
	if best < 0 {
		pick(false)
	}
	return best
}

func loopIndex(loops []examina.CoreLoop, id string) int {
	return slices.IndexFunc(loops, func(l examina.CoreLoop) bool { return l.ID == id })
}

// newItem builds the item of a merged exercise from its members.
func newItem(g examina.MergedExercise, byID map[string]*examina.ExerciseResult) Item {
	it := Item{ID: g.ID, Members: slices.Clone(g.MergedFrom), Difficulty: g.Analysis.Difficulty,
		Confidence: g.Analysis.Confidence, Status: g.Analysis.Status}
	if len(it.Members) == 0 {
		it.Members = []string{g.ID}
	}
	var numbers []string
	lo, hi := 0, 0
	for i, id := range it.Members {
		e, ok := byID[id]
		if !ok {
			continue
		}
		if i == 0 || it.Source == "" {
			it.Source = e.Source
		}
		if n := strings.TrimSpace(e.Number); n != "" && !slices.Contains(numbers, n) {
			numbers = append(numbers, n)
		}
		if e.Page > 0 {
			if lo == 0 || e.Page < lo {
				lo = e.Page
			}
			hi = max(hi, e.Page)
		}
	}
	it.Number = strings.Join(numbers, " + ")
	it.Pages = pages(lo, hi)
	it.Excerpt, it.Truncated = excerpt(g.Text)
	return it
}

// itemOf is the item of a single exercise (a dropped one).
func itemOf(e examina.ExerciseResult) Item {
	it := Item{ID: e.ID, Members: []string{e.ID}, Number: strings.TrimSpace(e.Number), Source: e.Source,
		Pages: pages(e.Page, e.Page), Difficulty: e.Analysis.Difficulty, Confidence: e.Analysis.Confidence,
		Status: e.Analysis.Status}
	it.Excerpt, it.Truncated = excerpt(e.Text)
	return it
}

func pages(lo, hi int) string {
	switch {
	case lo <= 0:
		return ""
	case hi > lo:
		return strconv.Itoa(lo) + "–" + strconv.Itoa(hi)
	}
	return strconv.Itoa(lo)
}

// excerpt returns the first non-blank lines of text (at most excerptLines lines and
// excerptRunes runes in all, cut at a word where possible) and whether text goes on.
func excerpt(text string) ([]string, bool) {
	var out []string
	budget := excerptRunes
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for _, line := range lines {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if len(out) == excerptLines || budget <= 0 {
			return out, true
		}
		if n := utf8.RuneCountInString(line); n > budget {
			out = append(out, cutAtWord(line, budget)+"…")
			return out, true
		}
		budget -= utf8.RuneCountInString(line)
		out = append(out, line)
	}
	return out, false
}

// cutAtWord returns the first n runes of s, shortened to the last space when one is in
// the second half.
func cutAtWord(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	r = r[:n]
	for i := len(r) - 1; i > n/2; i-- {
		if r[i] == ' ' {
			return strings.TrimRight(string(r[:i]), " ,;:")
		}
	}
	return string(r)
}

// sessionLabel names a session after its source: the base name without its extension.
func sessionLabel(src string) string {
	src = strings.TrimSpace(src)
	if src == "" {
		return "no source"
	}
	base := path.Base(strings.ReplaceAll(src, `\`, "/"))
	if ext := path.Ext(base); ext != "" && len(ext) <= 6 && len(ext) < len(base) {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// appendUnique appends the non-blank values of add not already in dst
// (case-insensitively).
func appendUnique(dst, add []string) []string {
	for _, v := range add {
		v = strings.TrimSpace(v)
		if v == "" || slices.ContainsFunc(dst, func(d string) bool { return strings.EqualFold(d, v) }) {
			continue
		}
		dst = append(dst, v)
	}
	return dst
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}
