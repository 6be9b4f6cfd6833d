package course

import (
	"bytes"
	"encoding/json"
	"iter"
	"path"
	"strings"
	"unicode/utf8"
)

// The helpers below walk JSON text that json.Valid has accepted. They never decode
// more than they must, return sub-slices of their input, and keep byte offsets so
// problems can be located. Called on invalid JSON they may return nonsense but never
// index out of range.

// isSpace reports whether c is JSON white space.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-space byte of b at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpace trims JSON white space and returns the offset of what remains.
func trimSpace(b []byte) ([]byte, int) {
	start := skipSpace(b, 0)
	end := len(b)
	for end > start && isSpace(b[end-1]) {
		end--
	}
	return b[start:end], start
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
		i++
	}
	return i
}

// member is one member of a JSON object: its key, its raw value and the value's byte
// offset (relative to the slice given to members, until a caller adds its base).
type member struct {
	key string
	val []byte
	off int
}

// members returns the members of the JSON object v (leading white space allowed), in
// order; a repeated key appears twice.
func members(v []byte) []member {
	var ms []member
	i := skipSpace(v, 0) + 1
	i = skipSpace(v, i)
	for i < len(v) && v[i] == '"' {
		kEnd := skipString(v, i)
		key := decodeKey(v[i:kEnd])
		i = skipSpace(v, kEnd) + 1 // past ':'
		i = skipSpace(v, i)
		vEnd := skipValue(v, i)
		ms = append(ms, member{key: key, val: v[i:vEnd], off: i})
		i = skipSpace(v, vEnd)
		if i >= len(v) || v[i] != ',' {
			break
		}
		i = skipSpace(v, i+1)
	}
	return ms
}

// decodeKey decodes a raw JSON string (quotes included).
func decodeKey(raw []byte) string {
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s) // raw is a valid JSON string; on nonsense input s stays ""
	return s
}

// elements yields the byte offset and raw value of every element of the JSON array v.
func elements(v []byte) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		i := skipSpace(v, 0) + 1
		i = skipSpace(v, i)
		for i < len(v) && v[i] != ']' {
			end := skipValue(v, i)
			if end == i || !yield(i, v[i:end]) {
				return
			}
			i = skipSpace(v, end)
			if i >= len(v) || v[i] != ',' {
				return
			}
			i = skipSpace(v, i+1)
		}
	}
}

// typeName names the JSON type of the raw value v for messages.
func typeName(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// isNull reports whether the raw value v is JSON null.
func isNull(v []byte) bool { return string(v) == "null" }

// isInteger reports whether the raw JSON number v has no fraction and no exponent.
func isInteger(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// invalidUTF8 returns the offset of the first byte of b that is not valid UTF-8, or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// DetectFormat guesses the format of a course file: by the extension of source first
// (".json" is JSON; ".jsonl" and ".ndjson" are JSONL, in any case), then by content: a
// file whose first non-space byte is '{' is JSON unless its first line is a whole
// object without an "exercises" member (then it is the first exercise of a JSONL file);
// anything else is JSONL.
func DetectFormat(source string, data []byte) Format {
	switch strings.ToLower(path.Ext(source)) {
	case ".json":
		return JSON
	case ".jsonl", ".ndjson":
		return JSONL
	}
	data = trimBOM(data)
	start := skipSpace(data, 0)
	if start == len(data) || data[start] != '{' {
		return JSONL
	}
	line := data[start:]
	if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
		line = line[:nl]
	}
	if !json.Valid(line) {
		return JSON // an object over several lines: a (pretty-printed) JSON document
	}
	for _, m := range members(line) {
		if m.key == "exercises" {
			return JSON
		}
	}
	return JSONL
}

// bom is the UTF-8 byte order mark, skipped at the start of a file.
const bom = "\xEF\xBB\xBF"

// trimBOM drops a leading byte order mark.
func trimBOM(b []byte) []byte {
	if len(b) >= len(bom) && string(b[:len(bom)]) == bom {
		return b[len(bom):]
	}
	return b
}
