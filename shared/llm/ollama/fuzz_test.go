package ollama_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/llm/ollama"
)

// FuzzHostURL feeds arbitrary OLLAMA_HOST values: an accepted value always becomes an http(s)
// URL with a host and no trailing slash.
func FuzzHostURL(f *testing.F) {
	for _, s := range []string{"", "localhost", "0.0.0.0:8080", "https://h/", "[::1]", "http://p:1/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		u, err := ollama.HostURL(host)
		if err != nil {
			return
		}
		pu, perr := url.Parse(u)
		if perr != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || strings.HasSuffix(u, "/") {
			t.Fatalf("HostURL(%q) = %q", host, u)
		}
	})
}

// FuzzParseShow feeds arbitrary /api/show bodies: never a negative context.
func FuzzParseShow(f *testing.F) {
	f.Add([]byte(`{"parameters":"num_ctx 8192","model_info":{"qwen3.context_length":40960},"capabilities":["completion","thinking"]}`))
	f.Add([]byte(`{"parameters":"num_ctx -5\nnum_ctx x","model_info":{"a.context_length":"big","b.context_length":-1}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, _, err := ollama.ParseShow(body)
		if n < 0 || (err != nil && n != 0) {
			t.Fatalf("ParseShow = %d, %v", n, err)
		}
	})
}
