// Package offline is a deterministic heuristic analyzer that implements
// examina.Provider without a network or a model, for any subject: it has no subject
// lists. It learns each course from the course itself (Learn, or LearnCourse, which
// the local pipeline calls before the first exercise): it tells exam instructions,
// headers and page footers from exercises by their structure, detects fragments by how
// they open and what they refer to, finds each exercise's key phrases against the
// course's own vocabulary (stop words and light stemming for Italian and English,
// two-word phrases, TF-IDF), clusters the exercises into topics named after the
// phrases they share, names core loops after the task each exercise sets (its verb of
// instruction and what it acts on), takes the procedure from the exercise's
// sub-questions, and gives a confidence that says how clearly the exercise belongs
// with others. Texts in other languages keep unstemmed words and no stop words: their
// topics still come from shared phrases, with lower confidence.
//
// Asked about an exercise of a course it was not given (the cloud's analyze function
// sees one exercise per message), the provider learns a course of two: the exercise
// and the previous one (Analyze). Its answers are labelled heuristic
// (Response.Heuristic). Analyze is also what the simulated provider returns.
package offline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// ProviderName is the name the offline provider reports.
const ProviderName = "offline"

// ModelName is the model the offline provider reports.
const ModelName = "heuristic-v2"

// Result is the model answer of the analysis: the Examina analysis fields without run
// metadata. Its JSON is what Complete returns in Response.Text.
type Result struct {
	IsValidExercise         bool     `json:"is_valid_exercise"`
	IsFragment              bool     `json:"is_fragment"`
	ShouldMergeWithPrevious bool     `json:"should_merge_with_previous"`
	Topic                   string   `json:"topic"`
	CoreLoopName            string   `json:"core_loop_name"`
	Procedure               []string `json:"procedure"`
	Difficulty              string   `json:"difficulty"`
	Variations              []string `json:"variations"`
	Confidence              float64  `json:"confidence"`
}

// MarshalJSON encodes r with empty lists as [] rather than null.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	if r.Procedure == nil {
		r.Procedure = []string{}
	}
	if r.Variations == nil {
		r.Variations = []string{}
	}
	return json.Marshal(plain(r))
}

// Provider is the offline heuristic provider. The zero value is ready to use and safe
// for concurrent use. Given the whole course first (LearnCourse, which the local
// pipeline calls before the first exercise), it answers from the course's model;
// asked about an exercise of a course it was not given (the cloud's analyze function
// sees one exercise per message), it analyses that exercise with the previous one as
// its only context (Analyze).
type Provider struct {
	mu    sync.RWMutex
	model *Model
	fp    string
}

// New returns an offline provider.
func New() *Provider { return &Provider{} }

// Name returns "offline".
func (*Provider) Name() string { return ProviderName }

// Model returns "heuristic-v2", followed by "+" and a fingerprint of the course once
// one is learned: the answers then depend on the whole course, so the fingerprint
// keeps a response cached for one course from being served for another.
func (p *Provider) Model() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.fp == "" {
		return ModelName
	}
	return ModelName + "+" + p.fp
}

// LearnCourse builds the model of cf, replacing any earlier one. Learning the same
// course again is a no-op.
func (p *Provider) LearnCourse(ctx context.Context, cf examina.CourseFile) error {
	if err := ctx.Err(); err != nil {
		return ContextError(ProviderName, err)
	}
	fp := Fingerprint(cf)
	p.mu.RLock()
	same := p.fp == fp
	p.mu.RUnlock()
	if same {
		return nil
	}
	m := Learn(cf.Course.Language, cf.Exercises)
	p.mu.Lock()
	p.model, p.fp = m, fp
	p.mu.Unlock()
	return nil
}

// Fingerprint is a short hash of the course's language and its items' texts in order:
// what a course model depends on.
func Fingerprint(cf examina.CourseFile) string {
	h := sha256.New()
	io.WriteString(h, cf.Course.Language)
	for _, e := range cf.Exercises {
		fmt.Fprintf(h, "\x00%d\x00%s", len(e.Text), e.Text)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Complete returns the JSON of the exercise's Result in Response.Text, with Heuristic
// set and token counts estimated from the text lengths: the learned course's answer
// when the exercise is at its position there, else Analyze of the exercise and
// req.Previous. It fails only when ctx is already done: a transient
// *examina.ProviderError (Reason "timeout" or "canceled") wrapping ctx.Err().
func (p *Provider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	if err := ctx.Err(); err != nil {
		return examina.Response{}, ContextError(ProviderName, err)
	}
	p.mu.RLock()
	m := p.model
	p.mu.RUnlock()
	res, ok := m.Result(req.Exercise.Position, req.Exercise.Text)
	if !ok {
		res = Analyze(Language(req.Language, req.Course.Language), req.Exercise.Text, req.Previous)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return examina.Response{}, examina.E("offline.Complete", examina.KindInternal, "marshal analysis: %w", err)
	}
	text := string(b)
	return examina.Response{
		Text:         text,
		Model:        p.Model(),
		InputTokens:  InputTokens(req),
		OutputTokens: EstimateTokens(text),
		Heuristic:    true,
	}, nil
}

// ContextError translates a context error into a transient *examina.ProviderError for
// provider: Reason "timeout" for a deadline, "canceled" otherwise. It wraps err.
func ContextError(provider string, err error) error {
	reason := "canceled"
	if errors.Is(err, context.DeadlineExceeded) {
		reason = "timeout"
	}
	return &examina.ProviderError{Provider: provider, Kind: examina.KindTransient, Reason: reason, Err: err}
}

// Language picks the output language: the request's, else the course's; "it" (or any
// "it-…" tag) means Italian and everything else English. It returns "it" or "en".
func Language(requested, course string) string {
	l := strings.ToLower(strings.TrimSpace(requested))
	if l == "" {
		l = strings.ToLower(strings.TrimSpace(course))
	}
	if l == "it" || strings.HasPrefix(l, "it-") || strings.HasPrefix(l, "it_") {
		return "it"
	}
	return "en"
}

// EstimateTokens is a rough token count for s: one token per four runes, rounded up.
func EstimateTokens(s string) int {
	return (utf8.RuneCountInString(s) + 3) / 4
}

// InputTokens estimates the input tokens of req: the rendered prompt when there is
// one, else the exercise and previous texts.
func InputTokens(req examina.Request) int {
	if req.Prompt.System != "" || req.Prompt.User != "" {
		return EstimateTokens(req.Prompt.System) + EstimateTokens(req.Prompt.User)
	}
	return EstimateTokens(req.Exercise.Text) + EstimateTokens(req.Previous)
}

// Analyze is the heuristic analysis of text, given the text of the previous exercise
// ("" for the first), with fallback names in lang ("it" for Italian, anything else
// English). It sees only these two texts, so it learns a course of two: a topic is
// confident only when the exercise shares its phrases with the previous one. It is
// what the provider answers for an exercise of a course it was not given (the cloud's
// analyze function sees one exercise per message) and what the simulated provider
// returns. It is a pure function: the same arguments always give the same Result.
func Analyze(lang, text, previous string) Result {
	out := Language(lang, "")
	texts := []string{text}
	if strings.TrimSpace(previous) != "" {
		texts = []string{previous, text}
	}
	m := learnTexts(out, out, texts, len(texts)-1)
	return m.results[len(texts)-1]
}

// invalid is the analysis of instructions, headers and empty texts.
func invalid(conf float64) Result {
	return Result{
		Procedure:  []string{},
		Difficulty: examina.DifficultyEasy,
		Variations: []string{},
		Confidence: conf,
	}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
