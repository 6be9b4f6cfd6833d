package course

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// Field limits that are not configurable: they protect keys in S3 and DynamoDB, and
// keep every stored item (DynamoDB: 400 KB) and queue message (SQS: 256 KiB) of an
// exercise bounded whatever the file holds: an exercise's message carries its text,
// the previous exercise's text, the course and these fields.
const (
	maxCodeChars   = 32
	maxIDChars     = 128
	maxNameChars   = 200  // course.name
	maxNumberChars = 32   // exercises[i].number
	maxSourceChars = 1000 // exercises[i].source
)

// overLimit reports a field of n characters over limit at off.
func (p *parser) overLimit(off int, path string, n, limit int, fix string) bool {
	if n <= limit {
		return false
	}
	p.add(off, path, fmt.Sprintf("%d characters, over the limit of %d", n, limit), fix)
	return true
}

// parser validates one course file and collects its problems.
type parser struct {
	data   []byte
	source string
	opts   Options
	lim    Limits

	lineStarts []int // byte offsets where lines start; built on the first located problem
	problems   []Problem
	truncated  bool

	course    examina.Course
	badCourse map[string]bool    // course fields already reported as wrongly typed
	courseOff map[string]int     // offsets of the course's fields in the file
	exercises []examina.Exercise // at most lim.MaxExercises
	idOffs    []int              // offset of each kept exercise's given id, else of the exercise
	count     int                // exercises seen, kept or not
	overOff   int                // offset of the first exercise over the limit
}

func newParser(data []byte, source string, opts Options) *parser {
	return &parser{data: data, source: source, opts: opts, lim: opts.Limits.withDefaults(), overOff: -1}
}

// full reports whether no more problems can be recorded.
func (p *parser) full() bool { return len(p.problems) >= maxProblems }

// add records a problem at byte offset off (-1: location unknown).
func (p *parser) add(off int, path, msg, fix string) {
	if p.full() {
		p.truncated = true
		return
	}
	pr := Problem{Path: path, Msg: msg, Fix: fix}
	if off >= 0 {
		pr.Line, pr.Column = p.position(off)
	}
	p.problems = append(p.problems, pr)
}

// position converts a byte offset into a 1-based line and character column.
func (p *parser) position(off int) (line, col int) {
	if p.lineStarts == nil {
		p.lineStarts = []int{0}
		for i, c := range p.data {
			if c == '\n' {
				p.lineStarts = append(p.lineStarts, i+1)
			}
		}
	}
	off = min(off, len(p.data))
	i := sort.Search(len(p.lineStarts), func(i int) bool { return p.lineStarts[i] > off }) - 1
	return i + 1, 1 + utf8.RuneCount(p.data[p.lineStarts[i]:off])
}

// err returns the problems as a *ProblemsError, or nil if there are none.
func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	// File order; problems without a location (the course of a JSONL file) first.
	slices.SortStableFunc(p.problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return &ProblemsError{Source: p.source, Problems: p.problems, Truncated: p.truncated}
}

// parse runs every check in order and returns the course file (meaningful only when
// no problem was recorded).
func (p *parser) parse() examina.CourseFile {
	if int64(len(p.data)) > p.lim.MaxFileBytes {
		p.problems = tooBig(p.source, int64(len(p.data)), p.lim.MaxFileBytes, false).(*ProblemsError).Problems
		return examina.CourseFile{}
	}
	p.data = trimBOM(p.data)
	if off := invalidUTF8(p.data); off >= 0 {
		p.add(off, "file", fmt.Sprintf("invalid UTF-8 (byte 0x%02X)", p.data[off]),
			"save the file with UTF-8 encoding")
		return examina.CourseFile{}
	}
	format := p.opts.Format
	switch format {
	case "":
		format = DetectFormat(p.source, p.data)
	case JSON, JSONL:
	default:
		p.add(-1, "format", fmt.Sprintf("unknown format %q", format), `use "json", "jsonl", or "" to detect it`)
		return examina.CourseFile{}
	}
	if format == JSON {
		if !p.readJSON() {
			return examina.CourseFile{}
		}
	} else {
		p.readJSONL()
	}
	p.checkCount(format)
	p.assignIDs()
	return examina.CourseFile{Course: p.course, Exercises: p.exercises}
}

// readJSON reads a JSON course file. It reports whether exercises were found (an
// array, possibly empty).
func (p *parser) readJSON() bool {
	doc, start := trimSpace(p.data)
	if len(doc) == 0 {
		p.add(-1, "file", "empty", `write the course and its exercises: {"course": {"code": "ADE", "name": "..."}, "exercises": [{"text": "..."}]}`)
		return false
	}
	if !json.Valid(p.data) {
		p.syntaxError(0, p.data, "file", JSON)
		return false
	}
	if doc[0] != '{' {
		fix := `a JSON course file is one object: {"course": {...}, "exercises": [...]}`
		if doc[0] == '[' {
			fix += `; to give only the exercises, write them one per line as JSONL and pass the course separately`
		}
		p.add(start, "file", "found "+typeName(doc)+", expected object", fix)
		return false
	}
	var courseM, exercisesM *member
	for _, m := range members(doc) {
		m.off += start
		switch m.key {
		case "course":
			courseM = &m
		case "exercises":
			exercisesM = &m
		}
	}
	p.jsonCourse(courseM)
	if exercisesM == nil || isNull(exercisesM.val) {
		p.add(start, "exercises", "missing", `add "exercises": [{"number": "1", "text": "..."}, ...] to the top-level object`)
		return false
	}
	if exercisesM.val[0] != '[' {
		p.add(exercisesM.off, "exercises", "found "+typeName(exercisesM.val)+", expected array",
			`write the exercises as an array: "exercises": [{"text": "..."}, ...]`)
		return false
	}
	pos := 0
	for off, v := range elements(exercisesM.val) {
		p.exercise(v, exercisesM.off+off, pos)
		pos++
	}
	return true
}

// jsonCourse reads the course object m (nil when absent), applies the overrides of
// Options.Course and validates the result.
func (p *parser) jsonCourse(m *member) {
	over := p.opts.Course
	off := -1
	var fields []member
	if m != nil && !isNull(m.val) {
		off = m.off
		if m.val[0] != '{' {
			p.add(m.off, "course", "found "+typeName(m.val)+", expected object",
				`write the course as an object: "course": {"code": "ADE", "name": "...", "language": "en"}`)
			p.badCourse = map[string]bool{"code": true, "name": true, "language": true}
		} else {
			fields = members(m.val)
		}
	}
	get := func(key, given string) string {
		if given != "" {
			return given
		}
		var val string
		for _, f := range fields {
			if f.key != key || isNull(f.val) {
				continue
			}
			s, ok := p.str(f.val, m.off+f.off, "course."+key, "write the course's "+key+" as a JSON string")
			if ok {
				val = s
				if p.courseOff == nil {
					p.courseOff = map[string]int{}
				}
				p.courseOff[key] = m.off + f.off
			} else {
				if p.badCourse == nil {
					p.badCourse = map[string]bool{}
				}
				p.badCourse[key] = true
			}
		}
		return val
	}
	p.course = examina.Course{
		Code:     get("code", over.Code),
		Name:     get("name", over.Name),
		Language: get("language", over.Language),
	}
	p.checkCourse(off, JSON)
}

// checkCourse normalises and validates p.course; off locates the course object.
func (p *parser) checkCourse(off int, format Format) {
	c := &p.course
	c.Code = strings.TrimSpace(c.Code)
	c.Name = strings.TrimSpace(c.Name)
	c.Language = strings.ToLower(strings.TrimSpace(c.Language))
	at := func(key string) int {
		if o, ok := p.courseOff[key]; ok {
			return o
		}
		return off
	}
	missing := func(key, example string) string {
		if format == JSONL {
			return fmt.Sprintf("give the course %s (e.g. %q) along with the file: a JSONL file does not carry its course", key, example)
		}
		return fmt.Sprintf(`add "%s": %q to the "course" object`, key, example)
	}
	switch n := utf8.RuneCountInString(c.Code); {
	case n == 0 && p.badCourse["code"]:
	case n == 0:
		p.add(off, "course.code", "missing", missing("code", "ADE"))
	case n > maxCodeChars:
		p.add(at("code"), "course.code", fmt.Sprintf("%d characters, over the limit of %d", n, maxCodeChars),
			"use a shorter course code")
	}
	for _, r := range c.Code {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			p.add(at("code"), "course.code", fmt.Sprintf("%q contains %q", c.Code, r),
				"use only letters A-Z, digits, '-' and '_': the code becomes part of storage keys")
			break
		}
	}
	if c.Name == "" && !p.badCourse["name"] {
		p.add(off, "course.name", "missing", missing("name", "Computer Architecture"))
	}
	p.overLimit(at("name"), "course.name", utf8.RuneCountInString(c.Name), maxNameChars, "use a shorter course name")
	switch c.Language {
	case "":
		c.Language = "en"
	case "en", "it":
	default:
		p.add(at("language"), "course.language", fmt.Sprintf("unsupported language %q", c.Language),
			`use "en" for English or "it" for Italian, or omit it for "en"`)
	}
}

// readJSONL reads a JSONL file: one exercise object per line, blank lines ignored.
func (p *parser) readJSONL() {
	p.course = p.opts.Course
	p.checkCourse(-1, JSONL)
	pos := 0
	for start, lineNo := 0, 1; start < len(p.data); lineNo++ {
		end := len(p.data)
		if nl := bytes.IndexByte(p.data[start:], '\n'); nl >= 0 {
			end = start + nl
		}
		line := p.data[start:end]
		lineStart := start
		start = end + 1
		v, lead := trimSpace(line)
		if len(v) == 0 {
			continue
		}
		switch {
		case p.full():
			p.seen(lineStart + lead)
			p.truncated = true
		case !json.Valid(v):
			p.seen(lineStart + lead)
			p.syntaxError(lineStart+lead, v, "line "+strconv.Itoa(lineNo), JSONL)
		default:
			p.exercise(v, lineStart+lead, pos)
		}
		pos++
	}
}

// syntaxError reports the JSON syntax error in b, which starts at byte offset base.
func (p *parser) syntaxError(base int, b []byte, path string, format Format) {
	err := json.Unmarshal(b, &struct{}{}) // checks the syntax before anything else
	off, msg := base, "invalid JSON"
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = base + max(int(se.Offset)-1, 0)
		if strings.Contains(se.Error(), "unexpected end") { // point just past the last character
			rest, _ := trimSpace(b)
			off = base + skipSpace(b, 0) + len(rest)
		}
		msg = "invalid JSON: " + se.Error()
	}
	fix := "correct the JSON syntax here (a missing comma, quote, colon or bracket is the usual cause)"
	switch {
	case err != nil && strings.Contains(err.Error(), "in string literal"):
		fix = `escape line breaks, tabs and other control characters inside strings: write \n, \t`
	case format == JSON && err != nil && strings.Contains(err.Error(), "after top-level value"):
		fix = "a JSON course file holds exactly one object; for one exercise object per line use JSONL (a .jsonl file)"
	case format == JSONL:
		fix = "write each exercise as one complete JSON object on a single line, escaping line breaks in texts as \\n"
	}
	p.add(off, path, msg, fix)
}

// seen counts an exercise found at byte offset off.
func (p *parser) seen(off int) {
	p.count++
	if p.count == p.lim.MaxExercises+1 {
		p.overOff = off
	}
}

// exercise validates the raw exercise v found at byte offset off and keeps it.
func (p *parser) exercise(v []byte, off, pos int) {
	p.seen(off)
	if p.full() {
		p.truncated = true
		return
	}
	at := "exercises[" + strconv.Itoa(pos) + "]"
	if v[0] != '{' {
		p.add(off, at, "found "+typeName(v)+", expected object",
			`write each exercise as an object, e.g. {"number": "1", "text": "..."}`)
		return
	}
	var id, number, text, page, source *member
	looksLikeCourse := false
	for _, m := range members(v) {
		m.off += off
		if isNull(m.val) {
			continue // null is as good as absent
		}
		switch m.key {
		case "id":
			id = &m
		case "number":
			number = &m
		case "text":
			text = &m
		case "page":
			page = &m
		case "source":
			source = &m
		case "exercises":
			looksLikeCourse = true
		}
	}
	ex := examina.Exercise{Position: pos}
	idOff := off
	if id != nil {
		if s, ok := p.str(id.val, id.off, at+".id", "write the id as a JSON string, or omit it to have one generated"); ok && p.checkID(s, id.off, at+".id") {
			ex.ID, idOff = s, id.off
		}
	}
	ex.Number = strconv.Itoa(pos + 1)
	if number != nil {
		switch {
		case number.val[0] == '"':
			if s, ok := p.str(number.val, number.off, at+".number", ""); ok && strings.TrimSpace(s) != "" &&
				!p.overLimit(number.off, at+".number", utf8.RuneCountInString(strings.TrimSpace(s)), maxNumberChars,
					`write the exercise's number (e.g. "3b"), not its text`) {
				ex.Number = strings.TrimSpace(s)
			}
		case typeName(number.val) == "number" && isInteger(number.val):
			if !p.overLimit(number.off, at+".number", len(number.val), maxNumberChars, "write a shorter exercise number") {
				ex.Number = string(number.val)
			}
		default:
			found := typeName(number.val)
			if found == "number" {
				found += " " + string(number.val)
			}
			p.add(number.off, at+".number", "found "+found+", expected string or integer",
				`write the exercise number as a string such as "3b" or a whole number such as 3, or omit it`)
		}
	}
	p.exerciseText(&ex, text, off, at, looksLikeCourse)
	if page != nil {
		p.exercisePage(&ex, page, at)
	}
	if source != nil {
		if s, ok := p.str(source.val, source.off, at+".source", "write the source as a JSON string, e.g. the exam's file name, or omit it"); ok &&
			!p.overLimit(source.off, at+".source", utf8.RuneCountInString(s), maxSourceChars, "give the exam's file name or reference, not its content") {
			ex.Source = s
		}
	}
	if len(p.exercises) < p.lim.MaxExercises {
		p.exercises = append(p.exercises, ex)
		p.idOffs = append(p.idOffs, idOff)
	}
}

// exerciseText validates and normalises the text member m (nil when absent) of the
// exercise at off.
func (p *parser) exerciseText(ex *examina.Exercise, m *member, off int, at string, looksLikeCourse bool) {
	path := at + ".text"
	if m == nil {
		fix := `add "text": "..." with the exercise's text`
		if looksLikeCourse {
			fix = `this looks like a whole JSON course file, not one exercise per line: read it as JSON (a .json file)`
		}
		p.add(off, path, "missing", fix)
		return
	}
	s, ok := p.str(m.val, m.off, path, "write the exercise's text as a JSON string")
	if !ok {
		return
	}
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if s == "" {
		p.add(m.off, path, "empty", "give the exercise's text, or remove the exercise")
		return
	}
	if strings.IndexByte(s, 0) >= 0 {
		p.add(m.off, path, `contains a NUL character (\u0000)`, "remove the NUL characters from the text")
	}
	if n := utf8.RuneCountInString(s); n > p.lim.MaxExerciseChars {
		p.add(m.off, path, fmt.Sprintf("%d characters, over the limit of %d", n, p.lim.MaxExerciseChars),
			"shorten the text or split it into several exercises")
	}
	ex.Text = s
}

// exercisePage validates the page member m.
func (p *parser) exercisePage(ex *examina.Exercise, m *member, at string) {
	path := at + ".page"
	const fix = "write the page as a whole number >= 0, e.g. 12, or omit it"
	if typeName(m.val) != "number" {
		p.add(m.off, path, "found "+typeName(m.val)+", expected integer", fix)
		return
	}
	if !isInteger(m.val) {
		p.add(m.off, path, "found number "+string(m.val)+", expected integer", fix)
		return
	}
	n, err := strconv.Atoi(string(m.val))
	switch {
	case err != nil:
		p.add(m.off, path, string(m.val)+" is too large", fix)
	case n < 0:
		p.add(m.off, path, string(m.val)+" is negative", fix)
	default:
		ex.Page = n
	}
}

// str decodes the raw JSON string v, or reports its wrong type at path.
func (p *parser) str(v []byte, off int, path, fix string) (string, bool) {
	if typeName(v) != "string" {
		p.add(off, path, "found "+typeName(v)+", expected string", fix)
		return "", false
	}
	if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 { // no escapes: the bytes are the string (valid UTF-8, checked)
		return string(v[1 : len(v)-1]), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		p.add(off, path, "invalid string: "+err.Error(), fix)
		return "", false
	}
	return s, true
}

// checkID reports what is wrong with the given id s; it returns true if nothing is.
func (p *parser) checkID(s string, off int, path string) bool {
	ok := true
	if strings.TrimSpace(s) == "" {
		p.add(off, path, "empty", "give a non-empty id, or omit it to have one generated")
		return false
	}
	if n := utf8.RuneCountInString(s); n > maxIDChars {
		p.add(off, path, fmt.Sprintf("%d characters, over the limit of %d", n, maxIDChars), "use a shorter id")
		ok = false
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		p.add(off, path, fmt.Sprintf("contains the control character U+%04X", r),
			"remove control characters (tabs, line breaks...) from the id")
		ok = false
	}
	if strings.Contains(s, "#") {
		p.add(off, path, `contains '#'`, "remove '#' from the id: it separates the parts of storage keys")
		ok = false
	}
	return ok
}

// checkCount reports a file with no exercises or with too many.
func (p *parser) checkCount(format Format) {
	if p.count == 0 {
		fix := `add at least one exercise to "exercises"`
		if format == JSONL {
			fix = `add at least one exercise, one JSON object per line, e.g. {"number": "1", "text": "..."}`
		}
		p.add(-1, "exercises", "no exercises", fix)
	}
	if p.count > p.lim.MaxExercises {
		p.add(p.overOff, "exercises", fmt.Sprintf("%d exercises, over the limit of %d", p.count, p.lim.MaxExercises),
			"split the course into several files, or raise the exercise limit")
	}
}

// assignIDs generates the missing ids and reports duplicates, naming both positions.
func (p *parser) assignIDs() {
	seen := make(map[string]int, len(p.exercises))
	for i := range p.exercises {
		ex := &p.exercises[i]
		if ex.ID == "" {
			ex.ID = ExerciseID(p.course, ex.Position, ex.Text)
		}
		if first, dup := seen[ex.ID]; dup {
			p.add(p.idOffs[i], "exercises["+strconv.Itoa(ex.Position)+"].id",
				fmt.Sprintf("duplicate id %q, also used by exercises[%d]", ex.ID, first),
				"give every exercise a different id, or omit the ids to have them generated")
			continue
		}
		seen[ex.ID] = ex.Position
	}
}
