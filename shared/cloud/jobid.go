package cloud

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// jobIDPattern is what a cloud job id looks like: a course slug and 12 hex digits.
var jobIDPattern = regexp.MustCompile(`^[a-z0-9_-]{1,40}-[0-9a-f]{12}$`)

// ValidJobID reports whether id has the shape of a job id.
func ValidJobID(id string) bool { return jobIDPattern.MatchString(id) }

// CourseSlug turns a course code into the first part of a job id: lower case, every
// character other than a-z, 0-9, '_' and '-' replaced by '-', at most 40 characters,
// "course" when nothing is left.
func CourseSlug(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		if b.Len() == 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if strings.Trim(b.String(), "-_") == "" {
		return "course"
	}
	return b.String()
}

// JobID derives a job id from a course code and the parts that identify one request:
// CourseSlug(code), a dash and the first 12 hex digits of the sha256 of the parts
// (each prefixed by its length, so different splits never collide).
func JobID(code string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte{byte(len(p) >> 24), byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p))})
		h.Write([]byte(p))
	}
	return CourseSlug(code) + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}
