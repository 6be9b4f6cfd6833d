package openai_test

import (
	"testing"

	"github.com/examina-dev/examina-serverless/shared/llm/openai"
)

// FuzzParseProps feeds arbitrary /props bodies: never a negative context or slot count.
func FuzzParseProps(f *testing.F) {
	f.Add([]byte(`{"default_generation_settings":{"n_ctx":3072},"total_slots":4}`))
	f.Add([]byte(`{"default_generation_settings":{"n_ctx":-1},"total_slots":-4}`))
	f.Add([]byte(`{"default_generation_settings":[],"total_slots":"4"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, _ := openai.ParseProps(body)
		if p.ContextTokens < 0 || p.Slots < 0 {
			t.Fatalf("ParseProps = %+v", p)
		}
	})
}
