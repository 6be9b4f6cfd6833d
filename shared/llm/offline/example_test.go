package offline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// exampleExercise is one exercise of the bundled example course file.
type exampleExercise struct {
	ID     string `json:"id"`
	Number string `json:"number"`
	Text   string `json:"text"`
	Page   int    `json:"page"`
	Source string `json:"source"`
}

type exampleCourse struct {
	Course struct {
		Code     string `json:"code"`
		Name     string `json:"name"`
		Language string `json:"language"`
	} `json:"course"`
	Exercises []exampleExercise `json:"exercises"`
}

func readExample(t *testing.T) exampleCourse {
	t.Helper()
	b, err := os.ReadFile("../../../examples/ade.json")
	if err != nil {
		t.Fatal(err)
	}
	var c exampleCourse
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestExampleCourse analyses the bundled course in order, as the pipeline does, and
// checks that it exercises every behaviour of the heuristic.
func TestExampleCourse(t *testing.T) {
	c := readExample(t)
	if c.Course.Code != "ADE" || c.Course.Language != "it" || c.Course.Name == "" {
		t.Fatalf("course %+v", c.Course)
	}
	if len(c.Exercises) < 27 {
		t.Fatalf("%d exercises, want >= 27", len(c.Exercises))
	}
	invalid, merged, low := 0, 0, 0
	topics := map[string]int{}
	ids := map[string]bool{}
	results := map[string]Result{}
	prev := ""
	for _, e := range c.Exercises {
		if e.ID == "" || ids[e.ID] || e.Text == "" || e.Source == "" || e.Page < 1 {
			t.Errorf("bad exercise %+v", e)
		}
		ids[e.ID] = true
		r := Analyze(c.Course.Language, e.Text, prev)
		checkInvariants(t, r)
		results[e.ID] = r
		switch {
		case !r.IsValidExercise:
			invalid++
		case r.ShouldMergeWithPrevious:
			merged++
		default:
			topics[r.Topic]++
		}
		if r.IsValidExercise && r.Confidence < 0.5 {
			low++
		}
		prev = e.Text
	}
	if invalid < 2 {
		t.Errorf("%d invalid items, want >= 2", invalid)
	}
	if merged < 4 {
		t.Errorf("%d merged items, want >= 4", merged)
	}
	if len(topics) < 6 {
		t.Errorf("%d distinct topics, want >= 6: %v", len(topics), topics)
	}
	if low < 2 {
		t.Errorf("%d low-confidence items, want >= 2", low)
	}

	// Specific items the README describes.
	want := []struct {
		id           string
		valid, merge bool
		topic        string
	}{
		{"ade-240612-h1", false, false, ""},
		{"ade-240612-h2", false, false, ""},
		{"ade-240612-p2", false, false, ""},
		{"ade-240703-h1", false, false, ""},
		{"ade-230914-h1", false, false, ""},
		{"ade-240125-h1", false, false, ""},
		{"ade-240612-1a", true, false, "Mappe di Karnaugh"},
		{"ade-240612-1b", true, true, "Mappe di Karnaugh"},
		{"ade-240612-4c", true, true, "Memoria cache"},
		{"ade-240703-1p2", true, true, "Virgola mobile IEEE 754"},
		{"ade-240703-2b", true, true, "Pipeline"},
		{"ade-240703-3c", true, true, "Valutazione delle prestazioni"},
		{"ade-230914-1b", true, true, "Circuiti combinatori"},
		{"ade-230914-4ii", true, true, "Programmazione assembly"},
		{"ade-240125-q2b", true, true, "Macchine a stati finiti"},
		{"ade-240125-q4c", true, true, ""},
		{"ade-240703-5", true, false, "Architettura degli elaboratori (generale)"},
		{"ade-230914-2", true, false, "Algebra di Boole"},
		{"ade-240703-4", true, false, "Circuiti sequenziali"},
	}
	for _, w := range want {
		r, ok := results[w.id]
		if !ok {
			t.Errorf("%s: missing from the example", w.id)
			continue
		}
		if r.IsValidExercise != w.valid || r.ShouldMergeWithPrevious != w.merge || (w.topic != "" && r.Topic != w.topic) {
			t.Errorf("%s: valid/merge/topic = %v/%v/%q, want %v/%v/%q", w.id, r.IsValidExercise, r.ShouldMergeWithPrevious, r.Topic, w.valid, w.merge, w.topic)
		}
	}
}

// TestExampleJSONL checks that examples/ade.jsonl holds the same exercises as ade.json.
func TestExampleJSONL(t *testing.T) {
	c := readExample(t)
	f, err := os.Open("../../../examples/ade.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []exampleExercise
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var e exampleExercise
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d: %v", len(lines)+1, err)
		}
		lines = append(lines, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lines, c.Exercises) {
		t.Errorf("ade.jsonl (%d lines) differs from ade.json (%d exercises)", len(lines), len(c.Exercises))
	}
}
