package offline

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// A course model is what the analyzer learns from a whole course before it answers for
// any exercise:
//
//  1. each item's page footers and the lines repeated across the course (running
//     headers and footers) are set aside;
//  2. items are told apart by structure: too short, exam instructions (rules, blanks,
//     a time budget, a dated header, and no task that outweighs them), fragments (how
//     they open: a continuation mark, a later sub-point, a lower-case word, an opening
//     clause referring back), exercises;
//  3. each exercise with its fragments is a group, described by its stemmed words and
//     two-word phrases weighted by TF-IDF against the course's own vocabulary (a phrase
//     every exercise has says nothing);
//  4. groups are clustered by cosine similarity (leader clustering in course order,
//     then reassignment to the nearest topic, then merging of close topics), and each
//     topic is named after the phrase its exercises share most;
//  5. a core loop is named from the task the exercise sets: its first verb of
//     instruction and the most shared phrase that follows it; the procedure is the
//     exercise's own sub-questions;
//  6. the confidence says how clearly the exercise belongs with others: a topic shared
//     with close exercises is confident, a lone exercise with nothing in common is not.

// Clustering thresholds (cosine similarity of TF-IDF vectors).
const (
	joinSim     = 0.22 // a group joins the nearest topic at least this close
	mergeSim    = 0.3  // two topics this close become one
	attachSim   = 0.10 // a lone group joins the nearest topic at least this close
	refinePass  = 3    // reassignment passes
	commonShare = 0.6  // a phrase in more than this share of the groups is not a topic's
	clauseWords = 12   // words after the task verb searched for its object
)

// Model is the analysis of one course, learned from all its items. It is read-only
// once built and safe for concurrent use.
type Model struct {
	results []Result
	texts   []string
}

// Result returns the analysis of the item at position i, and false when i is out of
// range or text is not the item's text.
func (m *Model) Result(i int, text string) (Result, bool) {
	if m == nil || i < 0 || i >= len(m.results) || m.texts[i] != text {
		return Result{}, false
	}
	return m.results[i], true
}

// Len is the number of items the model was learned from.
func (m *Model) Len() int { return len(m.results) }

// unit is one item of the course while the model is learned.
type unit struct {
	raw      string // text without footers
	body     string // raw without the exercise heading or the sub-point mark
	lang     string // "it", "en" or "" (unknown)
	invalid  bool
	conf     float64 // the invalid item's confidence
	fragment bool
	merge    bool
	group    int      // index in groups, -1 for invalid items
	subs     []string // the sub-questions of body
}

// group is an exercise with the fragments merged into it.
type group struct {
	units   []int
	lang    string
	raw     string
	tf      map[string]float64
	tri     map[string]bool    // three-word phrases, for names only
	vec     map[string]float64 // unit-length TF-IDF vector
	cluster int
	task    task
}

// cluster is a topic while clustering: the sum of its groups' vectors.
type cluster struct {
	members []int
	sum     map[string]float64
	norm2   float64
}

// phraseTable holds the course's vocabulary: document frequency over groups and the
// surfaces seen for each stemmed term.
type phraseTable struct {
	df      map[string]int
	surface map[string]map[string]int
}

func (p *phraseTable) best(term string) string {
	var best string
	n := -1
	for s, c := range p.surface[term] {
		if c > n || (c == n && s < best) {
			best, n = s, c
		}
	}
	return best
}

// reFooterInLine is a page reference inside a short line: "... – Pagina 2".
var reFooterInLine = regexp.MustCompile(`(?i)\b(?:pagina|page|pag\.)\s*\d+\b`)

// Learn builds the model of a course from all its items, in position order. lang is
// the course's language ("it", "en" or anything else); output texts it cannot take from
// the course are written in it.
func Learn(lang string, exercises []examina.Exercise) *Model {
	texts := make([]string, len(exercises))
	for i, e := range exercises {
		texts[i] = e.Text
	}
	return learnTexts(Language(lang, ""), courseLanguage(lang), texts, -1)
}

// courseLanguage is the course's language as the stemmer knows it, "" when it is
// neither Italian nor English.
func courseLanguage(lang string) string {
	l := strings.ToLower(strings.TrimSpace(lang))
	switch {
	case l == "it" || strings.HasPrefix(l, "it-") || strings.HasPrefix(l, "it_"):
		return langIT
	case l == "en" || strings.HasPrefix(l, "en-") || strings.HasPrefix(l, "en_") || l == "":
		return langEN
	}
	return ""
}

// learnTexts learns the model of texts. With only >= 0, only the group of item only
// gets its full analysis (the others' results stay empty): what Analyze needs.
func learnTexts(outLang, courseLang string, texts []string, only int) *Model {
	m := &Model{results: make([]Result, len(texts)), texts: texts}
	// Names and steps are cut from the texts: they must be valid UTF-8.
	clean := make([]string, len(texts))
	for i, t := range texts {
		clean[i] = strings.ToValidUTF8(t, "\uFFFD")
	}
	texts = clean
	units := make([]unit, len(texts))
	repeated := repeatedLines(texts)

	// 1-2: structure.
	var groups []*group
	for i, text := range texts {
		u := &units[i]
		u.group = -1
		u.raw = stripFooters(text, repeated)
		ws := words(u.raw)
		u.lang = detectLanguage(ws, courseLang)
		prevOpen := len(groups) > 0
		if tiny(u.raw) {
			u.invalid, u.conf = true, 0.9
			continue
		}
		norm := " " + strings.Join(ws, " ") + " "
		heading := opensHeading(u.raw)
		u.body = u.raw
		if heading {
			u.body = stripHeading(u.raw)
		}
		signal := ""
		if !heading {
			prev := ""
			if prevOpen {
				g := groups[len(groups)-1]
				prev = units[g.units[len(g.units)-1]].raw
			}
			signal = fragmentSignal(u.raw, prev)
		}
		t := findTask(u.lang, u.body)
		taskScore := 2 * t.requests
		if heading {
			taskScore += 3
		}
		u.subs = subQuestions(u.body)
		if len(u.subs) >= 2 {
			taskScore += 2
		}
		instr := instructionEvidence(u.raw, norm)
		if signal == "" && ((instr >= 2 && instr >= taskScore) || (taskScore == 0 && len(ws) <= 8)) {
			u.invalid = true
			u.conf = 0.75
			if instr >= 4 {
				u.conf = 0.9
			}
			continue
		}
		if signal != "" {
			u.fragment = true
			if b, _, ok, _ := subPoint(trimLead(u.raw)); ok {
				u.body = b
				u.subs = subQuestions(b)
			}
			if prevOpen {
				u.merge = true
				g := groups[len(groups)-1]
				g.units = append(g.units, i)
				g.raw += "\n\n" + u.raw
				u.group = len(groups) - 1
				continue
			}
		}
		u.group = len(groups)
		groups = append(groups, &group{units: []int{i}, lang: u.lang, raw: u.raw, task: t})
	}

	// 3: phrases and TF-IDF.
	table := &phraseTable{df: map[string]int{}, surface: map[string]map[string]int{}}
	for _, g := range groups {
		g.tf = map[string]float64{}
		g.tri = map[string]bool{}
		for _, ui := range g.units {
			addTerms(g.tf, g.tri, table, units[ui].lang, units[ui].body)
		}
		for t := range g.tf {
			table.df[t]++
		}
	}
	n := len(groups)
	idf := func(t string) float64 {
		df := table.df[t]
		// A phrase of one exercise only cannot relate it to another: it would only
		// dilute the similarities. Neither can a phrase nearly every exercise has.
		if df < 2 || (n >= 6 && float64(df) > commonShare*float64(n)) {
			return 0
		}
		return math.Log(float64(n+1) / float64(df))
	}
	for _, g := range groups {
		g.vec = map[string]float64{}
		var norm2 float64
		for t, tf := range g.tf {
			w := (1 + math.Log(tf)) * idf(t) * idf(t)
			if strings.IndexByte(t, ' ') >= 0 {
				w *= 1.5
			}
			if w > 0 {
				g.vec[t] = w
				norm2 += w * w
			}
		}
		if norm2 > 0 {
			inv := 1 / math.Sqrt(norm2)
			for t := range g.vec {
				g.vec[t] *= inv
			}
		}
	}

	// 4: clusters, names, confidence.
	clusters := clusterGroups(groups)
	names := nameClusters(groups, clusters, table, outLang)

	// 5-6: per-group analysis, copied to the group's items.
	loops := map[int]string{}
	for ci, c := range clusters {
		for gi, name := range clusterLoops(c, groups, units, table, n, names[ci]) {
			loops[gi] = name
		}
	}
	for gi, g := range groups {
		if only >= 0 && units[only].group != gi {
			continue
		}
		c := clusters[g.cluster]
		res := Result{IsValidExercise: true}
		res.Topic = names[g.cluster]
		res.Confidence = groupConfidence(g, c, groups, table)
		if g.lang == "" {
			res.Confidence = round2(res.Confidence * 0.9)
		}
		res.CoreLoopName = loops[gi]
		res.Procedure = procedure(g, units)
		res.Difficulty = difficulty(g.raw, normalize(g.raw), len(res.Procedure))
		res.Variations = variations(g, table, res.Topic, res.CoreLoopName)
		for _, ui := range g.units {
			r := res
			r.IsFragment = units[ui].fragment
			r.ShouldMergeWithPrevious = units[ui].merge
			m.results[ui] = r
		}
	}
	for i, u := range units {
		switch {
		case u.invalid:
			m.results[i] = invalid(u.conf)
		case u.group < 0:
			m.results[i] = invalid(0.5)
		}
	}
	return m
}

// repeatedLines finds the short lines without a task that appear in three or more
// items: running headers and footers of the exam pages.
func repeatedLines(texts []string) map[string]bool {
	if len(texts) < 3 {
		return nil
	}
	count := map[string]int{}
	for _, t := range texts {
		seen := map[string]bool{}
		for _, line := range strings.Split(t, "\n") {
			k := strings.TrimSpace(normalize(line))
			if k == "" || utf8.RuneCountInString(line) > 120 || seen[k] {
				continue
			}
			seen[k] = true
			count[k]++
		}
	}
	out := map[string]bool{}
	for k, c := range count {
		if c >= 3 && !strings.Contains(k, "?") && findTask(detectLanguage(strings.Fields(k), ""), k).requests == 0 {
			out[k] = true
		}
	}
	return out
}

// stripFooters removes page footers and repeated running lines from text.
func stripFooters(text string, repeated map[string]bool) string {
	lines := strings.Split(text, "\n")
	kept := lines[:0:0]
	for _, line := range lines {
		t := strings.TrimSpace(line)
		if isPageLine(t) || (utf8.RuneCountInString(t) <= 100 && reFooterInLine.MatchString(t) && !strings.HasSuffix(t, "?")) {
			continue
		}
		if repeated[strings.TrimSpace(normalize(t))] {
			continue
		}
		kept = append(kept, line)
	}
	return strings.TrimSpace(strings.Join(kept, "\n"))
}

// token is a word: normalized (for counting) and as written (for names).
type token struct{ norm, orig string }

// tokenize splits s into words, keeping each word's written form.
func tokenize(s string) []token {
	var out []token
	var norm, orig strings.Builder
	flush := func() {
		if norm.Len() > 0 {
			out = append(out, token{norm.String(), orig.String()})
			norm.Reset()
			orig.Reset()
		}
	}
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			norm.WriteRune(foldAccent(unicode.ToLower(r)))
			orig.WriteRune(r)
			continue
		}
		flush()
	}
	flush()
	return out
}

// connectors may stand between the two words of a phrase: "tempo di attesa".
var connectors = set("di del dello della dei degli delle dell d of")

// addTerms adds the stemmed content words and two-word phrases of text to tf, and their
// surfaces to the table.
func addTerms(tf map[string]float64, tri map[string]bool, table *phraseTable, lang, text string) {
	minLen := 3
	if lang == "" {
		minLen = 4
	}
	for _, sent := range clauses(text) {
		toks := tokenize(sent)
		ws := make([]string, len(toks))
		for i, t := range toks {
			ws[i] = t.norm
		}
		content := make([]bool, len(toks))
		stems := make([]string, len(toks))
		for i, w := range ws {
			if l, k := verbAt(lang, ws, i); l != "" {
				_ = k
				continue
			}
			if len(w) < minLen || isStop(lang, w) || setupVerbs[w] || !hasLetter(w) || isRomanOrLetter(w) {
				continue
			}
			content[i] = true
			stems[i] = stem(lang, w)
		}
		// "si calcoli": the word after "si" is the verb.
		for i := 0; i+1 < len(ws); i++ {
			if lang == langIT && ws[i] == "si" {
				if l, _ := verbAt(lang, ws, i); l != "" {
					content[i+1] = false
				}
			}
		}
		for i := range toks {
			if !content[i] {
				continue
			}
			see(tf, table, stems[i], toks[i].orig)
			j := i + 1
			if j < len(toks) && !content[j] && connectors[ws[j]] && j+1 < len(toks) {
				j++
			}
			if j < len(toks) && content[j] && j != i {
				surf := make([]string, 0, j-i+1)
				for k := i; k <= j; k++ {
					surf = append(surf, toks[k].orig)
				}
				see(tf, table, stems[i]+" "+stems[j], strings.Join(surf, " "))
				k := j + 1
				if k < len(toks) && !content[k] && connectors[ws[k]] && k+1 < len(toks) {
					k++
				}
				if k < len(toks) && content[k] {
					for x := j + 1; x <= k; x++ {
						surf = append(surf, toks[x].orig)
					}
					key := stems[i] + " " + stems[j] + " " + stems[k]
					tri[key] = true
					addSurface(table, key, strings.Join(surf, " "))
				}
			}
		}
	}
}

func see(tf map[string]float64, table *phraseTable, term, surface string) {
	tf[term]++
	addSurface(table, term, surface)
}

func addSurface(table *phraseTable, term, surface string) {
	s := table.surface[term]
	if s == nil {
		s = map[string]int{}
		table.surface[term] = s
	}
	s[surface]++
}

func hasLetter(w string) bool {
	for _, r := range w {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// isRomanOrLetter is a sub-point label: "ii", "iii", "iv".
func isRomanOrLetter(w string) bool {
	switch w {
	case "ii", "iii", "iv", "vi", "vii", "viii", "ix", "xi", "xii":
		return true
	}
	return false
}

// dot is the dot product of a sparse vector with a cluster's sum.
func dot(v, sum map[string]float64) float64 {
	var s float64
	for t, w := range v {
		s += w * sum[t]
	}
	return s
}

// simTo is the cosine similarity of group vector v (unit length or empty) to cluster c,
// leaving v itself out of c when self is true.
func simTo(v map[string]float64, c *cluster, self bool) float64 {
	d := dot(v, c.sum)
	n2 := c.norm2
	if self {
		vv := 0.0
		for _, w := range v {
			vv += w * w
		}
		d -= vv
		n2 = n2 - 2*(d+vv) + vv
	}
	if n2 <= 1e-12 || d <= 0 {
		return 0
	}
	return d / math.Sqrt(n2)
}

func (c *cluster) add(v map[string]float64, gi int) {
	c.members = append(c.members, gi)
	for t, w := range v {
		c.norm2 += 2*c.sum[t]*w + w*w
		c.sum[t] += w
	}
}

func (c *cluster) remove(v map[string]float64, gi int) {
	c.members = slices.DeleteFunc(c.members, func(x int) bool { return x == gi })
	for t, w := range v {
		c.norm2 += -2*c.sum[t]*w + w*w
		c.sum[t] -= w
		if math.Abs(c.sum[t]) < 1e-12 {
			delete(c.sum, t)
		}
	}
	if len(c.members) == 0 {
		c.norm2 = 0
	}
}

// clusterGroups assigns every group a cluster and returns the clusters, compacted, in
// the order of their first group.
func clusterGroups(groups []*group) []*cluster {
	var cs []*cluster
	index := map[string][]int{} // term → clusters that ever held it, each once
	inIndex := map[string]map[int]bool{}
	stamp := []int{} // per cluster: the call that last saw it
	call := 0
	var cands []int
	candidates := func(v map[string]float64) []int {
		call++
		cands = cands[:0]
		for t := range v {
			for _, ci := range index[t] {
				if stamp[ci] != call {
					stamp[ci] = call
					cands = append(cands, ci)
				}
			}
		}
		slices.Sort(cands)
		return cands
	}
	nearest := func(v map[string]float64, own int) (int, float64) {
		best, bestSim := -1, 0.0
		for _, ci := range candidates(v) {
			if len(cs[ci].members) == 0 {
				continue
			}
			s := simTo(v, cs[ci], ci == own)
			if s > bestSim {
				best, bestSim = ci, s
			}
		}
		return best, bestSim
	}
	join := func(gi, ci int) {
		g := groups[gi]
		cs[ci].add(g.vec, gi)
		g.cluster = ci
		for t := range g.vec {
			m := inIndex[t]
			if m == nil {
				m = map[int]bool{}
				inIndex[t] = m
			}
			if !m[ci] {
				m[ci] = true
				index[t] = append(index[t], ci)
			}
		}
	}
	for gi, g := range groups {
		ci, s := nearest(g.vec, -1)
		if ci < 0 || s < joinSim {
			cs = append(cs, &cluster{sum: map[string]float64{}})
			stamp = append(stamp, 0)
			ci = len(cs) - 1
		}
		join(gi, ci)
	}
	for range refinePass {
		moved := false
		for gi, g := range groups {
			own := g.cluster
			ci, s := nearest(g.vec, own)
			if ci < 0 || ci == own || len(cs[own].members) == 1 && s < joinSim {
				continue
			}
			if stay := simTo(g.vec, cs[own], true); s > stay+1e-9 && s >= attachSim {
				cs[own].remove(g.vec, gi)
				join(gi, ci)
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	// Merge close clusters, the closest pair first, until none is close enough.
	for {
		bi, bj, bs := -1, -1, mergeSim
		for i := range cs {
			if len(cs[i].members) == 0 {
				continue
			}
			for j := i + 1; j < len(cs); j++ {
				if len(cs[j].members) == 0 {
					continue
				}
				s := dot(cs[i].sum, cs[j].sum) / math.Sqrt(max(cs[i].norm2*cs[j].norm2, 1e-12))
				if s > bs {
					bi, bj, bs = i, j, s
				}
			}
		}
		if bi < 0 || len(cs) > 2000 {
			break
		}
		for _, gi := range slices.Clone(cs[bj].members) {
			cs[bj].remove(groups[gi].vec, gi)
			join(gi, bi)
		}
	}
	// Compact, in the order of each cluster's first group.
	var out []*cluster
	remap := map[int]int{}
	for _, g := range groups {
		if _, ok := remap[g.cluster]; !ok {
			remap[g.cluster] = len(out)
			c := cs[g.cluster]
			slices.Sort(c.members)
			out = append(out, c)
		}
	}
	for _, g := range groups {
		g.cluster = remap[g.cluster]
	}
	return out
}

// nameClusters names every cluster after the phrase its groups share most: a phrase in
// at least two of them (at least 40% for larger clusters), two-word phrases favoured; a
// lone group after its own strongest phrase. Names are distinct.
func nameClusters(groups []*group, cs []*cluster, table *phraseTable, lang string) []string {
	names := make([]string, len(cs))
	used := map[string]bool{}
	for ci, c := range cs {
		type cand struct {
			term  string
			score float64
		}
		share := map[string]int{}
		weight := map[string]float64{}
		for _, gi := range c.members {
			for t, w := range groups[gi].vec {
				share[t]++
				weight[t] += w
			}
		}
		need := 1
		if len(c.members) >= 2 {
			need = max(2, int(math.Ceil(0.4*float64(len(c.members)))))
		}
		var cands []cand
		for t, s := range share {
			if s < need {
				continue
			}
			// Shared by the cluster's groups, and specific to them: a phrase that
			// the rest of the course also uses names nothing.
			sc := weight[t] * float64(s) / float64(len(c.members)) * float64(s) / float64(table.df[t])
			if strings.IndexByte(t, ' ') >= 0 {
				sc *= 1.6
			}
			cands = append(cands, cand{t, sc})
		}
		if len(cands) == 0 && len(c.members) >= 2 {
			for t, s := range share {
				cands = append(cands, cand{t, weight[t] * float64(s)})
			}
		}
		slices.SortFunc(cands, func(a, b cand) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			return strings.Compare(a.term, b.term)
		})
		name := ""
		for _, cd := range cands {
			s := displayName(table.best(longer(cd.term, c, groups, need)))
			if s != "" && !used[strings.ToLower(s)] {
				name = s
				break
			}
		}
		if name == "" {
			name = fallbackTopic(groups[c.members[0]], lang)
			for k := 2; used[strings.ToLower(name)]; k++ {
				name = fallbackTopic(groups[c.members[0]], lang) + " " + itoa(k)
			}
		}
		used[strings.ToLower(name)] = true
		names[ci] = name
	}
	return names
}

// longer extends a two-word phrase to the three-word phrase that holds it in every
// group of the cluster that has it (at least need, at least two): "attesa medio" → "tempo di
// attesa medio". Anything else is returned as it is.
func longer(term string, c *cluster, groups []*group, need int) string {
	if strings.Count(term, " ") != 1 || len(c.members) < 2 {
		return term
	}
	count := map[string]int{}
	own := 0 // groups holding the two-word phrase
	for _, gi := range c.members {
		if groups[gi].tf[term] > 0 {
			own++
		}
		for t := range groups[gi].tri {
			if strings.HasPrefix(t, term+" ") || strings.HasSuffix(t, " "+term) {
				count[t]++
			}
		}
	}
	best, n := term, max(need, 2, own)-1
	for t, k := range count {
		if k > n || (k == n && best != term && t < best) {
			best, n = t, k
		}
	}
	return best
}

// fallbackTopic names a group without any phrase of its own (formulas only): its
// first words.
func fallbackTopic(g *group, lang string) string {
	ws := strings.Fields(stripHeading(g.raw))
	if len(ws) > 4 {
		ws = ws[:4]
	}
	if s := strings.Trim(strings.Join(ws, " "), " .,:;"); s != "" {
		return displayName(s)
	}
	if lang == langIT {
		return "Esercizio senza argomento riconoscibile"
	}
	return "Exercise without a recognisable topic"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// displayName capitalizes the first letter of s.
func displayName(s string) string {
	s = strings.TrimSpace(s)
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return ""
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// groupConfidence: a group in a topic with others is confident, the more the closer it
// is to them (0.55..0.95); a lone group is not: 0.45 when it shares a phrase with some
// other exercise, 0.3 when it shares nothing.
func groupConfidence(g *group, c *cluster, groups []*group, table *phraseTable) float64 {
	if len(c.members) >= 2 {
		s := simTo(g.vec, c, true)
		return round2(0.55 + 0.40*math.Min(1, s/0.35))
	}
	for t := range g.vec {
		if table.df[t] >= 2 {
			return 0.45
		}
	}
	return 0.3
}

// loopKey is a task: its verb and the phrase (a term) it acts on, "" for none.
type loopKey struct{ verb, obj string }

// groupTask finds the group's task: the first verb of instruction of its opener (or
// of a fragment) and, among the words that follow it, the phrase most shared with the
// other exercises of its topic (share counts the topic's groups holding each term),
// else the phrase most shared in the course.
func groupTask(g *group, units []unit, table *phraseTable, n int, share map[string]int) loopKey {
	t := g.task
	if t.verb == "" {
		for _, ui := range g.units[1:] {
			if ft := findTask(units[ui].lang, units[ui].body); ft.verb != "" {
				t = ft
				break
			}
		}
	}
	if t.verb == "" {
		return loopKey{}
	}
	after := t.after
	if len(after) > clauseWords {
		after = after[:clauseWords]
	}
	var stems []string
	var content []int
	for i, w := range after {
		if len(w) < 3 || isStop(g.lang, w) || setupVerbs[w] || !hasLetter(w) {
			continue
		}
		stems = append(stems, stem(g.lang, w))
		content = append(content, i)
	}
	obj, best := "", 0.0
	consider := func(term string) {
		df := table.df[term]
		if df < 2 || (n >= 6 && float64(df) > commonShare*float64(n)) {
			return
		}
		score := 0.1 * float64(df) // shared in the course only
		if sh := share[term]; sh >= 2 {
			score = float64(sh)
		}
		if strings.IndexByte(term, ' ') >= 0 {
			score *= 2
		}
		if score > best {
			best, obj = score, term
		}
	}
	for k := range stems {
		consider(stems[k])
		if k+1 < len(stems) && content[k+1]-content[k] <= 2 {
			consider(stems[k] + " " + stems[k+1])
		}
	}
	return loopKey{t.verb, obj}
}

// clusterLoops names the core loop of every group of a topic. A task (verb and
// phrase) that two or more of the topic's exercises set is a core loop of its own;
// every other exercise takes the topic's most frequent task, or, when no task
// repeats, the topic's most frequent verb applied to the topic.
func clusterLoops(c *cluster, groups []*group, units []unit, table *phraseTable, n int, topic string) map[int]string {
	share := map[string]int{}
	for _, gi := range c.members {
		for t := range groups[gi].tf {
			share[t]++
		}
	}
	keys := make([]loopKey, len(c.members))
	count := map[loopKey]int{}
	verbs := map[string]int{}
	for k, gi := range c.members {
		keys[k] = groupTask(groups[gi], units, table, n, share)
		if keys[k].verb != "" {
			count[keys[k]]++
			verbs[keys[k].verb]++
		}
	}
	dominant := loopKey{}
	for _, k := range keys {
		if count[k] > count[dominant] {
			dominant = k
		}
	}
	if count[dominant] < 2 && len(c.members) >= 2 {
		v := ""
		for _, k := range keys {
			if k.verb != "" && verbs[k.verb] > verbs[v] {
				v = k.verb
			}
		}
		dominant = loopKey{verb: v}
	}
	out := map[int]string{}
	longest := map[string]string{}
	for k, gi := range c.members {
		key := keys[k]
		if len(c.members) >= 2 && count[key] < 2 {
			key = dominant
		}
		if key.obj != "" {
			l, ok := longest[key.obj]
			if !ok {
				l = longer(key.obj, c, groups, 2)
				longest[key.obj] = l
			}
			key.obj = l
		}
		out[gi] = loopName(key, groups[gi].lang, table, topic)
	}
	return out
}

// loopName is the core loop's name: the verb and its phrase, the verb and the topic,
// or without a verb "Analizzare"/"Analyse" the topic (in an unknown language, the
// topic alone).
func loopName(k loopKey, lang string, table *phraseTable, topic string) string {
	obj := lowerFirst(topic)
	if k.obj != "" {
		obj = lowerFirst(table.best(k.obj))
	}
	verb := k.verb
	if verb == "" {
		switch lang {
		case langIT:
			verb = "analizzare"
		case langEN:
			verb = "analyse"
		default:
			return topic
		}
	}
	if strings.HasPrefix(strings.ToLower(obj), verb+" ") {
		return displayName(obj)
	}
	return displayName(verb) + " " + obj
}

func lowerFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	// Keep acronyms ("SQL", "LRU") as they are.
	if next, _ := utf8.DecodeRuneInString(s[size:]); unicode.IsUpper(next) {
		return s
	}
	return string(unicode.ToLower(r)) + s[size:]
}

// maxStep bounds the length of a procedure step.
const maxStep = 140

// procedure is the group's steps: the opener's sub-questions and each fragment's first
// sentence; without sub-questions, the sentences that set a task; at least the first
// sentence.
func procedure(g *group, units []unit) []string {
	first := units[g.units[0]]
	steps := slices.Clone(first.subs)
	if len(steps) == 0 {
		for _, s := range splitSentences(first.body) {
			if findTask(first.lang, s).verb != "" {
				steps = append(steps, s)
			}
		}
	}
	for _, ui := range g.units[1:] {
		u := units[ui]
		if len(u.subs) > 0 {
			steps = append(steps, u.subs...)
		} else if ss := splitSentences(u.body); len(ss) > 0 {
			steps = append(steps, ss[0])
		}
	}
	if len(steps) == 0 {
		if ss := splitSentences(first.body); len(ss) > 0 {
			steps = append(steps, ss[0])
		}
	}
	if len(steps) > 8 {
		steps = steps[:8]
	}
	out := make([]string, 0, len(steps))
	for _, s := range steps {
		s = strings.Join(strings.Fields(s), " ")
		if utf8.RuneCountInString(s) > maxStep {
			r := []rune(s)
			s = strings.TrimSpace(string(r[:maxStep-1])) + "…"
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// variations are the group's other shared phrases: at most three two-word phrases that
// other exercises also have, not already in the topic or the core loop.
func variations(g *group, table *phraseTable, topic, loop string) []string {
	type cand struct {
		term string
		w    float64
	}
	var cands []cand
	for t, w := range g.vec {
		if strings.IndexByte(t, ' ') < 0 || table.df[t] < 2 {
			continue
		}
		cands = append(cands, cand{t, w})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(b.w, a.w); c != 0 {
			return c
		}
		return strings.Compare(a.term, b.term)
	})
	out := []string{}
	tl, ll := strings.ToLower(topic), strings.ToLower(loop)
	for _, c := range cands {
		s := table.best(c.term)
		ls := strings.ToLower(s)
		if strings.Contains(tl, ls) || strings.Contains(ll, ls) || slices.Contains(out, s) {
			continue
		}
		out = append(out, s)
		if len(out) == 3 {
			break
		}
	}
	return out
}
