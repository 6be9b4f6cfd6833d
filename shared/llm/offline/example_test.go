package offline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

func readCourse(t testing.TB, path string) examina.CourseFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c examina.CourseFile
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for i := range c.Exercises {
		c.Exercises[i].Position = i
	}
	return c
}

// TestExampleCourse learns the bundled ADE course and checks what examples/README.md
// says of it: the headers, rules and footer are dropped, every fragment and sub-point
// is merged, the two vague questions have low confidence, and exercises of the same
// kind share a topic.
func TestExampleCourse(t *testing.T) {
	c := readCourse(t, "../../../examples/ade.json")
	m := Learn(c.Course.Language, c.Exercises)
	res := map[string]Result{}
	invalid, merged := map[string]bool{}, map[string]bool{}
	for i, e := range c.Exercises {
		r, _ := m.Result(i, e.Text)
		checkInvariants(t, r)
		res[e.ID] = r
		if !r.IsValidExercise {
			invalid[e.ID] = true
		}
		if r.ShouldMergeWithPrevious {
			merged[e.ID] = true
		}
	}
	wantInvalid := map[string]bool{"ade-240612-h1": true, "ade-240612-h2": true, "ade-240612-p2": true, "ade-240703-h1": true,
		"ade-230914-h1": true, "ade-240125-h1": true}
	wantMerged := map[string]bool{"ade-240612-1b": true, "ade-240612-4c": true, "ade-240703-1p2": true, "ade-240703-2b": true,
		"ade-240703-3c": true, "ade-230914-1b": true, "ade-230914-4ii": true, "ade-240125-q2b": true, "ade-240125-q4c": true}
	if !reflect.DeepEqual(invalid, wantInvalid) {
		t.Errorf("invalid %v, want %v", invalid, wantInvalid)
	}
	if !reflect.DeepEqual(merged, wantMerged) {
		t.Errorf("merged %v, want %v", merged, wantMerged)
	}
	for _, id := range []string{"ade-240703-5", "ade-240125-q3"} {
		if res[id].Confidence >= 0.5 {
			t.Errorf("vague question %s has confidence %v", id, res[id].Confidence)
		}
	}
	sameTopic := [][]string{
		{"ade-240612-2", "ade-240703-4", "ade-230914-3", "ade-240125-q2"}, // sequential circuits, state machines
		{"ade-240612-4", "ade-230914-5"},                                  // caches
		{"ade-240612-5", "ade-230914-4"},                                  // assembly
		{"ade-240703-1", "ade-240125-q1", "ade-240612-3"},                 // number representation
		{"ade-240703-2", "ade-240703-3", "ade-240125-q4"},                 // pipeline and performance
	}
	seen := map[string]string{}
	for _, ids := range sameTopic {
		topic := res[ids[0]].Topic
		for _, id := range ids[1:] {
			if res[id].Topic != topic {
				t.Errorf("%s has topic %q, %s has %q: want one", ids[0], topic, id, res[id].Topic)
			}
		}
		if other, dup := seen[topic]; dup {
			t.Errorf("topic %q for %s and %s, which are different subjects", topic, other, ids[0])
		}
		seen[topic] = ids[0]
		if res[ids[0]].Confidence < 0.55 {
			t.Errorf("%s: shared topic with confidence %v", ids[0], res[ids[0]].Confidence)
		}
	}
}

// TestSecondExample learns the bundled operating-systems course: five topics, its
// instructions and footers dropped, its fragments merged.
func TestSecondExample(t *testing.T) {
	c := readCourse(t, "../../../examples/sistemi-operativi.json")
	m := Learn(c.Course.Language, c.Exercises)
	topics := map[string]int{}
	invalid, merged := 0, 0
	for i, e := range c.Exercises {
		r, _ := m.Result(i, e.Text)
		checkInvariants(t, r)
		switch {
		case !r.IsValidExercise:
			invalid++
		case r.ShouldMergeWithPrevious:
			merged++
		default:
			topics[r.Topic]++
		}
	}
	if invalid != 7 || merged != 5 || len(topics) != 5 {
		t.Errorf("%d invalid, %d merged, topics %v; want 7, 5 and five topics", invalid, merged, topics)
	}
}

// TestExampleJSONL checks that examples/ade.jsonl holds the same exercises as ade.json.
func TestExampleJSONL(t *testing.T) {
	c := readCourse(t, "../../../examples/ade.json")
	f, err := os.Open("../../../examples/ade.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []examina.Exercise
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var e examina.Exercise
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d: %v", len(lines)+1, err)
		}
		e.Position = len(lines)
		lines = append(lines, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lines, c.Exercises) {
		t.Errorf("ade.jsonl (%d lines) differs from ade.json (%d exercises)", len(lines), len(c.Exercises))
	}
}
