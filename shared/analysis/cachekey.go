package analysis

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// cacheKeyDomain separates these hashes from any other sha256 the product computes and
// versions the key layout itself.
const cacheKeyDomain = "examina-cache-key/v1"

// CacheKey returns the response-cache key of one analysis request: the hex sha256 of
// the prompt version, provider, model, language, course code and name, exercise text and
// previous text. Every field is written with its length in front, so no two different
// inputs hash the same bytes ("ab"+"c" and "a"+"bc" differ). Texts are hashed as given;
// pass the language through NormalizeLanguage so "IT" and "it" share entries.
func CacheKey(promptVersion, provider, model, lang string, course examina.Course, text, previous string) string {
	h := sha256.New()
	var n [8]byte
	for _, field := range [...]string{cacheKeyDomain, promptVersion, provider, model, lang,
		course.Code, course.Name, text, previous} {
		binary.BigEndian.PutUint64(n[:], uint64(len(field)))
		h.Write(n[:])
		h.Write([]byte(field))
	}
	return hex.EncodeToString(h.Sum(nil))
}
