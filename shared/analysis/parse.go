package analysis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Limits applied to a parsed analysis.
const (
	MaxNameChars = 120 // runes of topic and core_loop_name
	MaxItems     = 12  // items kept in procedure and variations
	MaxItemChars = 300 // runes of each procedure step or variation
)

// Limits on the raw text Parse accepts, which bound its work on hostile input.
const (
	maxResponseBytes = 256 << 10 // an analysis is a few KiB; anything far larger is junk
	maxObjectStarts  = 128       // '{' positions tried as the start of the object
	maxUnwrapDepth   = 3         // levels of {"analysis": {...}} wrapping removed
	maxShownChars    = 40        // runes of an offending value quoted in an error
)

// The keys of the analysis object, in schema order.
const (
	keyValid      = "is_valid_exercise"
	keyFragment   = "is_fragment"
	keyMerge      = "should_merge_with_previous"
	keyTopic      = "topic"
	keyCoreLoop   = "core_loop_name"
	keyProcedure  = "procedure"
	keyDifficulty = "difficulty"
	keyVariations = "variations"
	keyConfidence = "confidence"
)

var analysisKeys = [...]string{keyValid, keyFragment, keyMerge, keyTopic, keyCoreLoop,
	keyProcedure, keyDifficulty, keyVariations, keyConfidence}

// ValidationError lists everything wrong with a model's answer, one problem per entry,
// each naming the field ("confidence: must be a number between 0 and 1, got \"high\"").
// Parse returns it wrapped in an *examina.Error of kind KindInvalid.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return strings.Join(e.Problems, "; ")
}

func invalid(problems ...string) error {
	return &examina.Error{Op: "analysis.Parse", Kind: examina.KindInvalid, Err: &ValidationError{Problems: problems}}
}

// Parse extracts the analysis object from a model's raw text and validates it.
//
// Extraction tolerates a byte order mark, invalid UTF-8 (replaced by U+FFFD, never passed
// on), <think>…</think> and <thinking>…</thinking> blocks (an unterminated opening tag is
// dropped and the last analysis object after it is used; a closing tag with no opening
// one ends a reasoning preamble that is dropped), ```json fences, prose before and after,
// a top-level array holding the object, and the object nested under a single key such as
// {"analysis": {...}}. The JSON itself must be strict: the first balanced {...} that
// decodes and carries analysis keys is used. To bound the work on hostile input, a
// response over 256 KiB is rejected and at most 128 '{' are tried as the object's start.
//
// Validation: is_valid_exercise, is_fragment and should_merge_with_previous are required
// JSON booleans (the strings "true"/"false" are rejected, so a model that ignores the
// schema is asked to repair rather than guessed at); difficulty is easy, medium or hard
// after trimming and folding case, with intermediate/moderate/medio/media read as medium,
// facile as easy, difficile/difficult as hard (missing or empty is allowed only for an
// invalid exercise and becomes medium); confidence is required, a number or numeric
// string in [0,1], where a value in (1,100] or a string like "85%" is read as a
// percentage; topic and core_loop_name are strings (null or missing read as empty) with
// control characters removed, white space collapsed, capped at MaxNameChars runes, and
// both must be non-empty (core_loop_name with a letter or digit) for a valid exercise;
// procedure and variations are arrays of strings (null or missing read as empty), each
// item cleaned like a name, empties dropped, at most MaxItems items of MaxItemChars
// runes. Unknown keys are ignored. CoreLoopID is examina.CoreLoopID(CoreLoopName) and
// Meta is left zero.
//
// On failure the error has kind examina.KindInvalid and wraps a *ValidationError whose
// message says precisely what is wrong, for RepairInstruction.
func Parse(text string) (examina.Analysis, error) {
	if len(text) > maxResponseBytes {
		return examina.Analysis{}, invalid(fmt.Sprintf("response is too large: %d bytes, the limit is %d; answer with the JSON object only", len(text), maxResponseBytes))
	}
	obj, err := extract(text)
	if err != nil {
		return examina.Analysis{}, err
	}
	return validate(obj)
}

// extract finds the analysis object in text.
func extract(text string) (map[string]json.RawMessage, error) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = strings.TrimPrefix(strings.TrimSpace(text), "\uFEFF")
	text, preferLast := stripThinking(text)
	if strings.TrimSpace(text) == "" {
		return nil, invalid("response is empty: expected a JSON object")
	}

	var (
		first       map[string]json.RawMessage // first object that decodes
		found       map[string]json.RawMessage // analysis-looking object chosen
		unclosed    bool                       // some '{' never closed: truncated output?
		syntaxErr   error                      // decode error of the longest failed span
		syntaxSpan  int
		starts      int
		scanStopped bool
	)
	for i := 0; i < len(text); i++ {
		if text[i] != '{' {
			continue
		}
		if starts == maxObjectStarts {
			scanStopped = true
			break
		}
		starts++
		end, ok := matchBrace(text, i)
		if !ok {
			unclosed = true
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(text[i:end+1]), &obj); err != nil {
			if end+1-i > syntaxSpan {
				syntaxErr, syntaxSpan = err, end+1-i
			}
			continue // an inner object may still decode
		}
		if first == nil {
			first = obj
		}
		if a, ok := unwrap(obj, maxUnwrapDepth); ok {
			found = a
			if !preferLast {
				break
			}
		}
		i = end // the interior belongs to this object
	}
	switch {
	case found != nil:
		return found, nil
	case first != nil:
		return first, nil // validation names the missing fields
	case scanStopped:
		return nil, invalid("response holds no JSON object in its first part: answer with the JSON object only")
	case syntaxErr != nil:
		return nil, invalid("response holds no valid JSON object: " + syntaxErr.Error())
	case unclosed:
		return nil, invalid("response holds an incomplete JSON object: it ends before the closing brace")
	}
	return nil, invalid("response holds no JSON object: expected {\"is_valid_exercise\": ..., ...}")
}

// thinkTags are the reasoning blocks some models emit before their answer.
var thinkTags = [...]struct{ open, close string }{
	{"<think>", "</think>"},
	{"<thinking>", "</thinking>"},
}

// stripThinking removes reasoning blocks. preferLast is true when an opening tag was
// never closed: the reasoning then runs into the answer and may hold draft objects, so
// the last analysis object is the answer.
func stripThinking(s string) (out string, preferLast bool) {
	for _, t := range thinkTags {
		var b strings.Builder
		rest := s
		for {
			i := indexFold(rest, t.open, 0)
			if i < 0 {
				break
			}
			b.WriteString(rest[:i])
			b.WriteByte(' ')
			j := indexFold(rest, t.close, i+len(t.open))
			if j < 0 {
				rest = rest[i+len(t.open):]
				preferLast = true
				break
			}
			rest = rest[j+len(t.close):]
		}
		b.WriteString(rest)
		s = b.String()
		// A closing tag with no opening one: the opening tag was in the chat template
		// and everything before the closing tag is reasoning.
		if j := lastIndexFold(s, t.close); j >= 0 {
			s = s[j+len(t.close):]
		}
	}
	return s, preferLast
}

// indexFold returns the byte index of the first ASCII case-insensitive occurrence of
// sub in s at or after from, or -1.
func indexFold(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// lastIndexFold returns the byte index of the last ASCII case-insensitive occurrence of
// sub in s, or -1.
func lastIndexFold(s, sub string) int {
	for i := len(s) - len(sub); i >= 0; i-- {
		if asciiEqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// matchBrace returns the index of the '}' closing the '{' at start, skipping braces
// inside JSON strings; ok is false when the text ends first.
func matchBrace(s string, start int) (end int, ok bool) {
	depth := 0
	inString, escaped := false, false
	for i := start; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i, true
			}
		}
	}
	return 0, false
}

// unwrap returns obj if it carries at least one analysis key, else descends into the
// value of a single-key object such as {"analysis": {...}}.
func unwrap(obj map[string]json.RawMessage, depth int) (map[string]json.RawMessage, bool) {
	for _, k := range analysisKeys {
		if _, ok := obj[k]; ok {
			return obj, true
		}
	}
	if depth == 0 || len(obj) != 1 {
		return nil, false
	}
	for _, raw := range obj {
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' { // {"analyses": [{...}]}
			var arr []json.RawMessage
			if json.Unmarshal(raw, &arr) != nil || len(arr) == 0 {
				return nil, false
			}
			raw = bytes.TrimSpace(arr[0])
		}
		var inner map[string]json.RawMessage
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &inner) != nil {
			return nil, false
		}
		return unwrap(inner, depth-1)
	}
	return nil, false
}

// validate turns the decoded object into an analysis, collecting every problem.
func validate(obj map[string]json.RawMessage) (examina.Analysis, error) {
	var (
		a        examina.Analysis
		problems []string
	)
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}

	boolField := func(key string) (value, ok bool) {
		raw, present := obj[key]
		if !present {
			fail("%s: missing (required boolean true or false)", key)
			return false, false
		}
		switch string(bytes.TrimSpace(raw)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		fail("%s: must be the JSON boolean true or false, got %s", key, show(raw))
		return false, false
	}
	var validKnown bool
	a.IsValidExercise, validKnown = boolField(keyValid)
	a.IsFragment, _ = boolField(keyFragment)
	a.ShouldMergeWithPrevious, _ = boolField(keyMerge)

	a.Topic = nameField(obj, keyTopic, fail)
	a.CoreLoopName = nameField(obj, keyCoreLoop, fail)
	a.CoreLoopID = examina.CoreLoopID(a.CoreLoopName)
	if validKnown && a.IsValidExercise {
		// A type error was reported already; complain about emptiness only otherwise.
		if a.Topic == "" && isNullOrString(obj[keyTopic]) {
			fail("%s: must not be empty when is_valid_exercise is true", keyTopic)
		}
		if isNullOrString(obj[keyCoreLoop]) {
			switch {
			case a.CoreLoopName == "":
				fail("%s: must not be empty when is_valid_exercise is true", keyCoreLoop)
			case a.CoreLoopID == "":
				fail("%s: must contain letters or digits, got %s", keyCoreLoop, show(obj[keyCoreLoop]))
			}
		}
	}

	a.Procedure = listField(obj, keyProcedure, fail)
	a.Difficulty = difficultyField(obj, validKnown && !a.IsValidExercise, fail)
	a.Variations = listField(obj, keyVariations, fail)
	a.Confidence = confidenceField(obj, fail)

	if len(problems) > 0 {
		return examina.Analysis{}, invalid(problems...)
	}
	return a, nil
}

// isNullOrString reports whether raw is missing, null or a JSON string (the cases in
// which an "empty" complaint is the useful one, rather than a type complaint).
func isNullOrString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null" || raw[0] == '"'
}

// nameField reads an optional string field as a cleaned, capped name.
func nameField(obj map[string]json.RawMessage, key string, fail func(string, ...any)) string {
	raw, ok := obj[key]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return ""
	}
	s, ok := decodeString(raw)
	if !ok {
		fail("%s: must be a string, got %s", key, show(raw))
		return ""
	}
	return clean(s, MaxNameChars)
}

// listField reads an optional array of strings, cleaning each item, dropping empties,
// and capping the count; the result is never nil.
func listField(obj map[string]json.RawMessage, key string, fail func(string, ...any)) []string {
	out := []string{}
	raw, ok := obj[key]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return out
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		fail("%s: must be an array of strings, got %s", key, show(raw))
		return out
	}
	for i, item := range items {
		if string(bytes.TrimSpace(item)) == "null" {
			continue
		}
		s, ok := decodeString(item)
		if !ok {
			fail("%s[%d]: must be a string, got %s", key, i, show(item))
			continue
		}
		if s = clean(s, MaxItemChars); s != "" && len(out) < MaxItems {
			out = append(out, s)
		}
	}
	return out
}

// difficultyAliases maps the accepted spellings (lower case, trimmed) to a difficulty.
var difficultyAliases = map[string]string{
	"easy":         examina.DifficultyEasy,
	"facile":       examina.DifficultyEasy,
	"medium":       examina.DifficultyMedium,
	"intermediate": examina.DifficultyMedium,
	"moderate":     examina.DifficultyMedium,
	"medio":        examina.DifficultyMedium,
	"media":        examina.DifficultyMedium,
	"hard":         examina.DifficultyHard,
	"difficult":    examina.DifficultyHard,
	"difficile":    examina.DifficultyHard,
}

func difficultyField(obj map[string]json.RawMessage, invalidExercise bool, fail func(string, ...any)) string {
	const want = `must be one of "easy", "medium", "hard"`
	raw, ok := obj[keyDifficulty]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		if invalidExercise {
			return examina.DifficultyMedium
		}
		fail("%s: missing (required, %s)", keyDifficulty, want[len("must be "):])
		return ""
	}
	s, ok := decodeString(raw)
	if !ok {
		fail("%s: %s, got %s", keyDifficulty, want, show(raw))
		return ""
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" && invalidExercise {
		return examina.DifficultyMedium
	}
	if d, ok := difficultyAliases[s]; ok {
		return d
	}
	fail("%s: %s, got %s", keyDifficulty, want, show(raw))
	return ""
}

func confidenceField(obj map[string]json.RawMessage, fail func(string, ...any)) float64 {
	const want = "must be a number between 0 and 1"
	raw, ok := obj[keyConfidence]
	if !ok {
		fail("%s: missing (required, a number between 0 and 1)", keyConfidence)
		return 0
	}
	var (
		f       float64
		percent bool
		err     error
	)
	if s, isString := decodeString(raw); isString {
		s = strings.TrimSpace(s)
		if t, ok := strings.CutSuffix(s, "%"); ok {
			s, percent = strings.TrimSpace(t), true
		}
		f, err = strconv.ParseFloat(s, 64)
	} else {
		var n json.Number
		if err = json.Unmarshal(raw, &n); err == nil {
			f, err = n.Float64()
		}
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 100 {
		fail("%s: %s, got %s", keyConfidence, want, show(raw))
		return 0
	}
	if percent || f > 1 {
		f /= 100
	}
	return f
}

// decodeString decodes raw as a JSON string; ok is false for any other type.
func decodeString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// clean removes invalid UTF-8 and control characters, collapses white space, trims, and
// caps the result at limit runes.
func clean(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\uFEFF' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > limit {
		s = strings.TrimRightFunc(capRunes(s, limit), unicode.IsSpace)
	}
	return s
}

// show renders an offending JSON value for an error message: compact, at most
// maxShownChars runes.
func show(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		raw = buf.Bytes()
	}
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
	if utf8.RuneCountInString(s) > maxShownChars {
		s = capRunes(s, maxShownChars) + "…"
	}
	if s == "" {
		return "nothing"
	}
	return s
}

// RepairInstruction renders the extra user message of a repair attempt from the error
// Parse returned: what was wrong and how to answer instead. It returns "" for a nil err.
func RepairInstruction(err error) string {
	if err == nil {
		return ""
	}
	var problems []string
	var ve *ValidationError
	if errors.As(err, &ve) {
		problems = ve.Problems
	} else {
		problems = []string{err.Error()}
	}
	var b strings.Builder
	b.WriteString("Your previous answer could not be used:\n")
	for _, p := range problems {
		b.WriteString("- ")
		b.WriteString(clean(p, 400))
		b.WriteString("\n")
	}
	b.WriteString("Answer again for the same exercise with only the JSON object described in the instructions: " +
		"all nine keys present (is_valid_exercise, is_fragment, should_merge_with_previous, topic, core_loop_name, " +
		"procedure, difficulty, variations, confidence), true/false as JSON booleans, difficulty one of \"easy\", " +
		"\"medium\", \"hard\", confidence a number between 0 and 1, no prose and no code fences.")
	return b.String()
}
