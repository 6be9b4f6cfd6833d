package cost

import (
	"math"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// The token estimate.
//
// No provider's tokenizer ships with this program, so input tokens are estimated from
// characters. CharsPerToken was measured on llama-server's reported prompt_tokens for
// this project's prompt (testdata/llama-server: 3.70 and 3.63 characters per token,
// chat template included, Llama SPM vocabulary, Italian and English text); tiktoken's
// o200k and Llama 3's vocabularies are denser on English, so for them the estimate errs
// high, the safe side for a forecast. Every message adds MessageTokens (role and
// template markers) and a reply adds ReplyTokens, as in OpenAI's published counting
// rule.
//
// The worst case, used by the spending cap, is one token per byte of every message and
// the schema plus WorstMessageTokens per message: byte-level BPE tokenizers (GPT, Llama
// 3, Qwen) and SentencePiece with byte fallback (Llama 2, Mistral) never produce more
// tokens than bytes, apart from the template's special tokens.
const (
	CharsPerToken      = 3.7
	MessageTokens      = 4
	ReplyTokens        = 3
	WorstMessageTokens = 32
)

// EstimateText is the expected number of tokens of s.
func EstimateText(s string) int {
	if s == "" {
		return 0
	}
	return int(math.Ceil(float64(utf8.RuneCountInString(s)) / CharsPerToken))
}

// messages returns the texts a provider sends for req: system, user and, on a repair
// attempt, the repair instruction.
func messages(req examina.Request) []string {
	m := []string{req.Prompt.System, req.Prompt.User}
	if req.Repair != "" {
		m = append(m, req.Repair)
	}
	return m
}

// EstimateInput is the expected input tokens of req. schema adds the JSON schema, which
// hosted APIs with structured output put into the prompt (local servers turn it into a
// grammar instead).
func EstimateInput(req examina.Request, schema bool) int {
	n := ReplyTokens
	for _, m := range messages(req) {
		n += EstimateText(m) + MessageTokens
	}
	if schema && len(req.Schema) > 0 {
		n += EstimateText(string(req.Schema)) + MessageTokens
	}
	return n
}

// WorstInput is an upper bound of req's input tokens: every byte of the messages and
// the schema a token, plus WorstMessageTokens per message.
func WorstInput(req examina.Request) int {
	n := WorstMessageTokens
	for _, m := range messages(req) {
		n += len(m) + WorstMessageTokens
	}
	return n + len(req.Schema) + WorstMessageTokens
}

// WorstOutput is an upper bound of req's output tokens: its budget, which every
// provider enforces (reasoning tokens included).
func WorstOutput(req examina.Request) int { return max(req.MaxTokens, 0) }
