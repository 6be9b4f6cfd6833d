package analysis_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// good is a complete, valid answer.
const good = `{"is_valid_exercise": true, "is_fragment": false, "should_merge_with_previous": false,
 "topic": "Boolean algebra", "core_loop_name": "Karnaugh map minimisation",
 "procedure": ["Build the truth table", "Fill the map", "Group the ones", "Write the SOP"],
 "difficulty": "medium", "variations": ["Don't care terms"], "confidence": 0.85}`

var goodAnalysis = examina.Analysis{
	IsValidExercise: true,
	Topic:           "Boolean algebra",
	CoreLoopName:    "Karnaugh map minimisation",
	CoreLoopID:      "karnaugh_map_minimisation",
	Procedure:       []string{"Build the truth table", "Fill the map", "Group the ones", "Write the SOP"},
	Difficulty:      "medium",
	Variations:      []string{"Don't care terms"},
	Confidence:      0.85,
}

// with returns good with one key's raw JSON value replaced, or removed when value is "".
func with(key, value string) string {
	m := map[string]string{
		"is_valid_exercise":          "true",
		"is_fragment":                "false",
		"should_merge_with_previous": "false",
		"topic":                      `"Boolean algebra"`,
		"core_loop_name":             `"Karnaugh map minimisation"`,
		"procedure":                  `["Build the truth table", "Fill the map", "Group the ones", "Write the SOP"]`,
		"difficulty":                 `"medium"`,
		"variations":                 `["Don't care terms"]`,
		"confidence":                 "0.85",
	}
	if value == "" {
		delete(m, key)
	} else {
		m[key] = value
	}
	var parts []string
	for _, k := range []string{"is_valid_exercise", "is_fragment", "should_merge_with_previous", "topic",
		"core_loop_name", "procedure", "difficulty", "variations", "confidence"} {
		if v, ok := m[k]; ok {
			parts = append(parts, `"`+k+`": `+v)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func edit(f func(*examina.Analysis)) examina.Analysis {
	a := goodAnalysis
	a.Procedure = append([]string(nil), a.Procedure...)
	a.Variations = append([]string(nil), a.Variations...)
	f(&a)
	return a
}

const invalidItem = `{"is_valid_exercise": false, "is_fragment": false, "should_merge_with_previous": false,
 "topic": "", "core_loop_name": "", "procedure": [], "difficulty": "easy", "variations": [], "confidence": 0.9}`

var invalidAnalysis = examina.Analysis{
	Procedure:  []string{},
	Variations: []string{},
	Difficulty: "easy",
	Confidence: 0.9,
}

func TestParseAccepts(t *testing.T) {
	long := strings.Repeat("é", 500)
	tests := []struct {
		name string
		in   string
		want examina.Analysis
	}{
		{"plain JSON", good, goodAnalysis},
		{"BOM", "\uFEFF" + good, goodAnalysis},
		{"json fence", "```json\n" + good + "\n```", goodAnalysis},
		{"bare fence", "```\n" + good + "\n```\n", goodAnalysis},
		{"think block", "<think>\nThe user wants {a draft}. Maybe {\"topic\": \"x\"}?\n</think>\n" + good, goodAnalysis},
		{"think block upper case", "<THINK>hmm {\"is_valid_exercise\": false}</Think>" + good, goodAnalysis},
		{"thinking block", "<thinking>let me see</thinking>\n```json\n" + good + "\n```", goodAnalysis},
		{"orphan closing think", "Okay, the exercise asks {\"is_valid_exercise\": false} ...\n</think>\n\n" + good, goodAnalysis},
		{"unterminated think at start, last object wins",
			"<think>draft: " + with("confidence", "0.1") + " now the final answer\n" + good, goodAnalysis},
		{"unterminated think, no draft", "<think>\n" + good, goodAnalysis},
		{"prose before and after", "Sure! Here is the analysis you asked for:\n" + good + "\nLet me know if you need more {help}.", goodAnalysis},
		{"braces in prose before", "Using f(x) = {a, b} and {c}:\n" + good, goodAnalysis},
		{"braces inside strings", with("topic", `"Sets {a, b} and \"}\" quotes"`),
			edit(func(a *examina.Analysis) { a.Topic = `Sets {a, b} and "}" quotes` })},
		{"nested under key", `{"analysis": ` + good + `}`, goodAnalysis},
		{"nested two levels", `{"result": {"analysis": ` + good + `}}`, goodAnalysis},
		{"nested under key in array", `{"analyses": [` + good + `]}`, goodAnalysis},
		{"top-level array", "[" + good + "]", goodAnalysis},
		{"fenced array with prose", "Result:\n```json\n[\n" + good + "\n]\n```", goodAnalysis},
		{"invalid outer, valid inner", `{"analysis": ` + good + `,}`, goodAnalysis},
		{"extra keys ignored", strings.TrimSuffix(good, "}") + `, "notes": {"x": 1}}`, goodAnalysis},
		{"percentage confidence", with("confidence", "85"), goodAnalysis},
		{"percentage confidence 100", with("confidence", "100"), edit(func(a *examina.Analysis) { a.Confidence = 1 })},
		{"confidence exactly 1", with("confidence", "1"), edit(func(a *examina.Analysis) { a.Confidence = 1 })},
		{"confidence 0", with("confidence", "0"), edit(func(a *examina.Analysis) { a.Confidence = 0 })},
		{"confidence exponent", with("confidence", "8.5e-1"), goodAnalysis},
		{"string confidence", with("confidence", `" 0.85 "`), goodAnalysis},
		{"string percentage confidence", with("confidence", `"85%"`), goodAnalysis},
		{"string percentage 100", with("confidence", `"100 %"`), edit(func(a *examina.Analysis) { a.Confidence = 1 })},
		{"difficulty upper case, spaces", with("difficulty", `"  HARD "`), edit(func(a *examina.Analysis) { a.Difficulty = "hard" })},
		{"difficulty intermediate", with("difficulty", `"Intermediate"`), goodAnalysis},
		{"difficulty medio", with("difficulty", `"medio"`), goodAnalysis},
		{"difficulty media", with("difficulty", `"media"`), goodAnalysis},
		{"difficulty facile", with("difficulty", `"facile"`), edit(func(a *examina.Analysis) { a.Difficulty = "easy" })},
		{"difficulty difficile", with("difficulty", `"Difficile"`), edit(func(a *examina.Analysis) { a.Difficulty = "hard" })},
		{"names trimmed and collapsed", with("topic", `"  Boolean\n\talgebra  "`), goodAnalysis},
		{"control characters removed", with("core_loop_name", `"Karnaugh\u0000map\u0007minimisation"`), goodAnalysis},
		{"items trimmed, empties and nulls dropped", with("procedure", `["  Build the truth table ", "", "  ", null, "Fill the map", "Group the ones", "Write the SOP"]`), goodAnalysis},
		{"null lists read as empty", with("variations", "null"),
			edit(func(a *examina.Analysis) { a.Variations = []string{} })},
		{"missing lists read as empty", with("procedure", ""),
			edit(func(a *examina.Analysis) { a.Procedure = []string{} })},
		{"invalid exercise with empty topic", invalidItem, invalidAnalysis},
		{"invalid exercise with null names and no difficulty",
			`{"is_valid_exercise": false, "is_fragment": false, "should_merge_with_previous": false, "topic": null, "core_loop_name": null, "confidence": 0.9}`,
			edit(func(a *examina.Analysis) { *a = invalidAnalysis; a.Difficulty = "medium" })},
		{"invalid exercise with empty difficulty",
			`{"is_valid_exercise": false, "is_fragment": false, "should_merge_with_previous": false, "difficulty": " ", "confidence": 0.9}`,
			edit(func(a *examina.Analysis) { *a = invalidAnalysis; a.Difficulty = "medium" })},
		{"fragment", `{"is_valid_exercise": true, "is_fragment": true, "should_merge_with_previous": true, "topic": "Boolean algebra", "core_loop_name": "Karnaugh map minimisation", "procedure": [], "difficulty": "easy", "variations": [], "confidence": 0.6}`,
			examina.Analysis{IsValidExercise: true, IsFragment: true, ShouldMergeWithPrevious: true, Topic: "Boolean algebra",
				CoreLoopName: "Karnaugh map minimisation", CoreLoopID: "karnaugh_map_minimisation", Procedure: []string{},
				Difficulty: "easy", Variations: []string{}, Confidence: 0.6}},
		{"italian names", with("core_loop_name", `"Minimizzazione con mappe di Karnaugh"`),
			edit(func(a *examina.Analysis) {
				a.CoreLoopName = "Minimizzazione con mappe di Karnaugh"
				a.CoreLoopID = "minimizzazione_con_mappe_di_karnaugh"
			})},
		{"huge strings capped", with("topic", `"`+long+`"`),
			edit(func(a *examina.Analysis) { a.Topic = strings.Repeat("é", analysis.MaxNameChars) })},
		{"huge item capped", with("variations", `["`+long+`"]`),
			edit(func(a *examina.Analysis) { a.Variations = []string{strings.Repeat("é", analysis.MaxItemChars)} })},
		{"too many items capped", with("variations", `["1","2","3","4","5","6","7","8","9","10","11","12","13","14"]`),
			edit(func(a *examina.Analysis) {
				a.Variations = []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}
			})},
		// One U+FFFD replaces each run of bad bytes.
		{"invalid UTF-8 replaced", with("topic", "\"Boolean \xff\xfe algebra\""),
			edit(func(a *examina.Analysis) { a.Topic = "Boolean \uFFFD algebra" })},
		{"lone surrogate escape replaced", with("topic", `"Boolean \ud800 algebra"`),
			edit(func(a *examina.Analysis) { a.Topic = "Boolean \uFFFD algebra" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := analysis.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", got, tt.want)
			}
			checkInvariants(t, got)
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error message, in order
	}{
		{"empty string", "", []string{"response is empty"}},
		{"blank", " \n\t ", []string{"response is empty"}},
		{"only thinking", "<think>I am not sure {what} to say</think>", []string{"response is empty"}},
		{"garbage", "I cannot help with that.", []string{"no JSON object"}},
		{"binary garbage", "\x00\x01\xff{{{", []string{"incomplete JSON object"}},
		{"truncated JSON", good[:len(good)/2], []string{"incomplete JSON object"}},
		{"trailing comma", strings.TrimSuffix(good, "}") + ",}", []string{"no valid JSON object", "invalid character"}},
		{"single quotes", `{'is_valid_exercise': true}`, []string{"no valid JSON object"}},
		{"object after too many braces", strings.Repeat("{x} ", 200) + good, []string{"no JSON object in its first part"}},
		{"too large", good + strings.Repeat(" ", 300<<10), []string{"too large"}},
		{"object without analysis keys", `{"answer": "yes", "why": "because"}`, []string{
			"is_valid_exercise: missing", "is_fragment: missing", "should_merge_with_previous: missing",
			"difficulty: missing", "confidence: missing"}},
		{"missing boolean", with("is_fragment", ""), []string{"is_fragment: missing (required boolean true or false)"}},
		{"missing confidence", with("confidence", ""), []string{"confidence: missing"}},
		{"missing difficulty on valid exercise", with("difficulty", ""), []string{"difficulty: missing"}},
		{"null difficulty on valid exercise", with("difficulty", "null"), []string{"difficulty: missing"}},
		{"string boolean rejected", with("is_valid_exercise", `"true"`),
			[]string{`is_valid_exercise: must be the JSON boolean true or false, got "true"`}},
		{"number boolean rejected", with("should_merge_with_previous", "1"),
			[]string{`should_merge_with_previous: must be the JSON boolean true or false, got 1`}},
		{"null boolean rejected", with("is_fragment", "null"),
			[]string{`is_fragment: must be the JSON boolean true or false, got null`}},
		{"word confidence", with("confidence", `"high"`),
			[]string{`confidence: must be a number between 0 and 1, got "high"`}},
		{"negative confidence", with("confidence", "-0.2"), []string{`confidence: must be a number between 0 and 1, got -0.2`}},
		{"confidence above 100", with("confidence", "150"), []string{`got 150`}},
		{"percentage string above 100", with("confidence", `"150%"`), []string{`got "150%"`}},
		{"NaN string confidence", with("confidence", `"NaN"`), []string{`got "NaN"`}},
		{"Inf string confidence", with("confidence", `"Inf"`), []string{`got "Inf"`}},
		{"huge confidence", with("confidence", "1e999"), []string{`got 1e999`}},
		{"null confidence", with("confidence", "null"), []string{`confidence: must be a number between 0 and 1, got null`}},
		{"bool confidence", with("confidence", "true"), []string{`got true`}},
		{"unknown difficulty", with("difficulty", `"very hard"`),
			[]string{`difficulty: must be one of "easy", "medium", "hard", got "very hard"`}},
		{"numeric difficulty", with("difficulty", "3"), []string{`difficulty: must be one of "easy", "medium", "hard", got 3`}},
		{"unknown difficulty on invalid exercise", strings.Replace(invalidItem, `"easy"`, `"n/a"`, 1), []string{`got "n/a"`}},
		{"topic wrong type", with("topic", "42"), []string{"topic: must be a string, got 42"}},
		{"topic object", with("topic", `{"name": "x"}`), []string{`topic: must be a string, got {"name":"x"}`}},
		{"procedure not an array", with("procedure", `"Do it all"`), []string{`procedure: must be an array of strings, got "Do it all"`}},
		{"procedure item wrong type", with("procedure", `["ok", 3, {"a": 1}]`),
			[]string{"procedure[1]: must be a string, got 3", `procedure[2]: must be a string, got {"a":1}`}},
		{"variations wrong type", with("variations", "{}"), []string{"variations: must be an array of strings, got {}"}},
		{"empty topic on valid exercise", with("topic", `"   "`), []string{"topic: must not be empty when is_valid_exercise is true"}},
		{"missing topic on valid exercise", with("topic", ""), []string{"topic: must not be empty"}},
		{"empty core loop on valid exercise", with("core_loop_name", `""`), []string{"core_loop_name: must not be empty"}},
		{"punctuation core loop on valid exercise", with("core_loop_name", `"???"`), []string{`core_loop_name: must contain letters or digits, got "???"`}},
		{"long value shown capped", with("confidence", `"`+strings.Repeat("x", 100)+`"`), []string{`got "` + strings.Repeat("x", 39) + "…"}},
		{"several problems at once", `{"is_valid_exercise": "yes", "is_fragment": false, "should_merge_with_previous": false, "topic": 1, "difficulty": "medium", "confidence": "high"}`,
			[]string{"is_valid_exercise: must be", "; topic: must be a string", "; confidence: must be"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := analysis.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse = %#v, want an error", got)
			}
			if k := examina.KindOf(err); k != examina.KindInvalid {
				t.Errorf("KindOf(err) = %v, want invalid", k)
			}
			var ve *analysis.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Errorf("err %v does not wrap a *ValidationError with problems", err)
			}
			if !reflect.DeepEqual(got, examina.Analysis{}) {
				t.Errorf("Parse returned a non-zero analysis with its error: %#v", got)
			}
			msg, rest := err.Error(), err.Error()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q does not contain %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
			if !utf8.ValidString(msg) {
				t.Errorf("error message is not valid UTF-8: %q", msg)
			}
		})
	}
}

func TestRepairInstruction(t *testing.T) {
	_, err := analysis.Parse(with("confidence", `"high"`) + "\n" + "ignored")
	if err == nil {
		t.Fatal("Parse accepted a word confidence")
	}
	got := analysis.RepairInstruction(err)
	for _, w := range []string{
		`- confidence: must be a number between 0 and 1, got "high"`,
		"only the JSON object",
		"all nine keys",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("RepairInstruction = %q, missing %q", got, w)
		}
	}
	if strings.Contains(got, "analysis.Parse") {
		t.Errorf("RepairInstruction leaks the operation name: %q", got)
	}

	_, err = analysis.Parse(`{"is_valid_exercise": 1, "is_fragment": false, "should_merge_with_previous": false, "difficulty": "easy", "confidence": 2}`)
	got = analysis.RepairInstruction(err)
	if !strings.Contains(got, "- is_valid_exercise: must be the JSON boolean") {
		t.Errorf("RepairInstruction = %q, missing the boolean problem", got)
	}

	if got := analysis.RepairInstruction(errors.New("some other failure")); !strings.Contains(got, "- some other failure") {
		t.Errorf("RepairInstruction(plain error) = %q", got)
	}
	if got := analysis.RepairInstruction(nil); got != "" {
		t.Errorf("RepairInstruction(nil) = %q, want empty", got)
	}
}

// checkInvariants asserts every validation rule on an analysis Parse accepted.
func checkInvariants(t *testing.T, a examina.Analysis) {
	t.Helper()
	if !reflect.DeepEqual(a.Meta, examina.Meta{}) {
		t.Errorf("Meta not zero: %#v", a.Meta)
	}
	switch a.Difficulty {
	case examina.DifficultyEasy, examina.DifficultyMedium, examina.DifficultyHard:
	default:
		t.Errorf("difficulty %q", a.Difficulty)
	}
	if math.IsNaN(a.Confidence) || a.Confidence < 0 || a.Confidence > 1 {
		t.Errorf("confidence %v out of [0,1]", a.Confidence)
	}
	checkText(t, "topic", a.Topic, analysis.MaxNameChars)
	checkText(t, "core_loop_name", a.CoreLoopName, analysis.MaxNameChars)
	if a.CoreLoopID != examina.CoreLoopID(a.CoreLoopName) {
		t.Errorf("core_loop_id %q, want %q", a.CoreLoopID, examina.CoreLoopID(a.CoreLoopName))
	}
	if a.IsValidExercise && (a.Topic == "" || a.CoreLoopName == "" || a.CoreLoopID == "") {
		t.Errorf("valid exercise with empty topic %q / core loop %q / id %q", a.Topic, a.CoreLoopName, a.CoreLoopID)
	}
	for name, list := range map[string][]string{"procedure": a.Procedure, "variations": a.Variations} {
		if list == nil {
			t.Errorf("%s is nil, want a non-nil slice", name)
		}
		if len(list) > analysis.MaxItems {
			t.Errorf("%s has %d items, more than %d", name, len(list), analysis.MaxItems)
		}
		for _, s := range list {
			if s == "" {
				t.Errorf("%s holds an empty item", name)
			}
			checkText(t, name, s, analysis.MaxItemChars)
		}
	}
}

func checkText(t *testing.T, field, s string, limit int) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s is not valid UTF-8: %q", field, s)
	}
	if n := utf8.RuneCountInString(s); n > limit {
		t.Errorf("%s has %d runes, more than %d", field, n, limit)
	}
	if strings.TrimSpace(s) != s {
		t.Errorf("%s not trimmed: %q", field, s)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		t.Errorf("%s holds a control character: %q", field, s)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		good, invalidItem, "", "{", "[" + good + "]", "<think>" + good, "```json\n" + good + "\n```",
		`{"analysis": ` + good + `}`, with("confidence", `"85%"`), with("topic", `"  "`),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := analysis.Parse(in)
		if err != nil {
			if k := examina.KindOf(err); k != examina.KindInvalid {
				t.Fatalf("KindOf(%v) = %v, want invalid", err, k)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error message is not valid UTF-8: %q", err.Error())
			}
			return
		}
		checkInvariants(t, a)
	})
}

func BenchmarkParse(b *testing.B) {
	in := "<think>\nThe exercise asks to minimise a function with a map {x, y}.\n</think>\nHere it is:\n```json\n" + good + "\n```\n"
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := analysis.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
