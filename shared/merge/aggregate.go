package merge

import (
	"cmp"
	"slices"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// groupRef is what one aggregated group feeds: indices of its distinct topic and core
// loop (-1 for none).
type groupRef struct {
	group, topic, loop int
}

// distinctLoop is a core loop as first seen, keyed by id, before folding.
type distinctLoop struct {
	id, name string
	topic    int // distinct topic of its first group, or -1
	first    int // index of its first group
}

// aggregate builds the topics and core loops of the merged groups and returns them with
// the number of groups skipped for low confidence.
func aggregate(merged []examina.MergedExercise, opts Options) ([]examina.Topic, []examina.CoreLoop, int) {
	skipped := 0
	refs := make([]groupRef, 0, len(merged))

	// Pass 1: exact keys. Topics by normalised name, core loops by id; both keep the
	// first-seen spelling. Lookups with string(buf) do not allocate.
	topicByNorm := make(map[string]int)
	var topicNames, topicNorms []string
	loopByID := make(map[string]int)
	idByName := make(map[string]string) // CoreLoopName -> examina.CoreLoopID(name)
	var loops []distinctLoop
	var buf []byte
	for gi := range merged {
		a := &merged[gi].Analysis
		if !(a.Confidence >= opts.MinConfidence) {
			skipped++
			continue
		}
		ref := groupRef{group: gi, topic: -1, loop: -1}
		buf = appendNormalized(buf[:0], a.Topic)
		if len(buf) > 0 {
			t, ok := topicByNorm[string(buf)]
			if !ok {
				t = len(topicNames)
				norm := string(buf)
				topicByNorm[norm] = t
				topicNames = append(topicNames, strings.TrimSpace(a.Topic))
				topicNorms = append(topicNorms, norm)
			}
			ref.topic = t
		}
		if id, name := loopKey(a, idByName); id != "" {
			l, ok := loopByID[id]
			if !ok {
				l = len(loops)
				loopByID[id] = l
				loops = append(loops, distinctLoop{id: id, name: name, topic: ref.topic, first: gi})
			}
			ref.loop = l
		}
		if ref.topic >= 0 || ref.loop >= 0 {
			refs = append(refs, ref)
		}
	}

	// Pass 2: fold the distinct names.
	topicCanon, topics := foldTopics(topicNames, topicNorms, opts.Similarity)
	loopCanon, coreLoops := foldLoops(loops, merged, topicCanon, topics, opts.Similarity)

	// Pass 3: count, in group (position) order.
	type pair struct{ topic, loop int }
	linked := make(map[pair]struct{})
	for _, r := range refs {
		t, l := -1, -1
		if r.topic >= 0 {
			t = topicCanon[r.topic]
			topics[t].ExerciseCount++
		}
		if r.loop >= 0 {
			l = loopCanon[r.loop]
			coreLoops[l].ExerciseCount++
			coreLoops[l].Exercises = append(coreLoops[l].Exercises, merged[r.group].ID)
		}
		if t >= 0 && l >= 0 {
			if _, ok := linked[pair{t, l}]; !ok {
				linked[pair{t, l}] = struct{}{}
				topics[t].CoreLoops = append(topics[t].CoreLoops, coreLoops[l].ID)
			}
		}
	}

	// Canonical entries are in first-appearance order: a stable sort keeps it for ties.
	slices.SortStableFunc(topics, func(a, b examina.Topic) int {
		return cmp.Compare(b.ExerciseCount, a.ExerciseCount)
	})
	slices.SortStableFunc(coreLoops, func(a, b examina.CoreLoop) int {
		return cmp.Compare(b.ExerciseCount, a.ExerciseCount)
	})
	return topics, coreLoops, skipped
}

// loopKey returns the id and display name of a's core loop, or "" if it has none. The
// id is a.CoreLoopID if set, else derived from the name (cached in idByName); the name
// falls back to the id.
func loopKey(a *examina.Analysis, idByName map[string]string) (id, name string) {
	name = strings.TrimSpace(a.CoreLoopName)
	id = strings.TrimSpace(a.CoreLoopID)
	if id == "" && name != "" {
		var ok bool
		if id, ok = idByName[name]; !ok {
			id = examina.CoreLoopID(name)
			idByName[name] = id
		}
	}
	if name == "" {
		name = id
	}
	return id, name
}

// foldTopics folds the distinct topic names and returns, for each, the index of its
// canonical topic, and the canonical topics (first-appearance order, counts zero).
func foldTopics(names, norms []string, threshold float64) ([]int, []examina.Topic) {
	canon := make([]int, len(names))
	topics := []examina.Topic{}
	f := newFolder(threshold)
	for i, norm := range norms {
		c := f.add([]rune(norm))
		if c == len(topics) {
			topics = append(topics, examina.Topic{Name: names[i], CoreLoops: []string{}})
		}
		canon[i] = c
	}
	return canon, topics
}

// foldLoops folds the distinct core loops by name and returns, for each, the index of
// its canonical core loop, and the canonical core loops (first-appearance order, counts
// zero). A canonical core loop takes its procedure from its first group and its topic
// from the canonical topic of that group.
func foldLoops(loops []distinctLoop, merged []examina.MergedExercise, topicCanon []int, topics []examina.Topic, threshold float64) ([]int, []examina.CoreLoop) {
	canon := make([]int, len(loops))
	out := []examina.CoreLoop{}
	exact := make(map[string]int) // normalised name -> canonical index
	f := newFolder(threshold)
	var buf []byte
	for i, dl := range loops {
		buf = appendNormalized(buf[:0], dl.name)
		c, ok := exact[string(buf)]
		if !ok {
			norm := string(buf)
			c = f.add([]rune(norm))
			exact[norm] = c
		}
		if c == len(out) {
			topic := ""
			if dl.topic >= 0 {
				topic = topics[topicCanon[dl.topic]].Name
			}
			procedure := cloneNonNil(merged[dl.first].Analysis.Procedure)
			out = append(out, examina.CoreLoop{
				ID:        dl.id,
				Name:      dl.name,
				Topic:     topic,
				Procedure: procedure,
				Exercises: []string{},
			})
		}
		canon[i] = c
	}
	return canon, out
}
