// Package offline is a deterministic heuristic analyzer that implements
// examina.Provider without a network or a model. It tells exam instructions from
// exercises, detects fragments that continue the previous exercise, and assigns topics,
// core loops, procedures, difficulty and variations from weighted Italian and English
// keyword tables. Its answers are labelled heuristic (Response.Heuristic).
//
// The same analysis is exported as Analyze so that other providers (the simulated one)
// can produce realistic content.
package offline

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// ProviderName is the name the offline provider reports.
const ProviderName = "offline"

// ModelName is the model the offline provider reports.
const ModelName = "heuristic-v1"

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
// for concurrent use.
type Provider struct{}

// New returns an offline provider.
func New() *Provider { return &Provider{} }

// Name returns "offline".
func (*Provider) Name() string { return ProviderName }

// Model returns "heuristic-v1".
func (*Provider) Model() string { return ModelName }

// Complete analyses req.Exercise.Text with req.Previous as context and returns the JSON
// of the Result in Response.Text, with Heuristic set and token counts estimated from
// the text lengths. It fails only when ctx is already done: a transient
// *examina.ProviderError (Reason "timeout" or "canceled") wrapping ctx.Err().
func (p *Provider) Complete(ctx context.Context, req examina.Request) (examina.Response, error) {
	if err := ctx.Err(); err != nil {
		return examina.Response{}, ContextError(ProviderName, err)
	}
	lang := Language(req.Language, req.Course.Language)
	b, err := json.Marshal(Analyze(lang, req.Exercise.Text, req.Previous))
	if err != nil {
		return examina.Response{}, examina.E("offline.Complete", examina.KindInternal, "marshal analysis: %w", err)
	}
	text := string(b)
	return examina.Response{
		Text:         text,
		Model:        ModelName,
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
// ("" for the first), with names and procedures in lang ("it" for Italian, anything
// else English). It is a pure function: the same arguments always give the same Result.
//
// Instructions, headers and tiny texts are invalid. A text with a continuation signal
// (a later sub-point, "continua"/"(segue)", a lower-case start, a reference to the
// previous item) is a fragment that merges with the previous exercise and, when it has
// no strong keyword of its own, takes the previous exercise's topic and core loop.
func Analyze(lang, text, previous string) Result {
	if lang != "it" {
		lang = "en"
	}
	raw := strings.TrimSpace(text)
	norm := normalize(raw)
	if tiny(raw) {
		return invalid(0.9)
	}
	best, bestScore, secondScore := rank(norm)
	if instr := instructionScore(raw, norm); instr >= 2 && (bestScore < strongScore || instr >= bestScore) {
		conf := 0.75
		if instr >= 4 {
			conf = 0.9
		}
		return invalid(conf)
	}

	res := Result{IsValidExercise: true}
	conf := confidence(bestScore, secondScore)
	if continuation(raw, norm) != "" {
		res.IsFragment = true
		prev := strings.TrimSpace(previous)
		res.ShouldMergeWithPrevious = prev != ""
		if bestScore < strongScore && prev != "" {
			pn := normalize(prev)
			if pb, ps, p2 := rank(pn); ps > 0 {
				best = pb
				conf = round2(confidence(ps, p2) * 0.9)
			}
		}
	}

	res.Topic = best.name.in(lang)
	res.CoreLoopName = best.coreLoop.in(lang)
	res.Procedure = make([]string, len(best.procedure))
	for i, step := range best.procedure {
		res.Procedure[i] = step.in(lang)
	}
	res.Difficulty = difficulty(raw, norm)
	res.Variations = variations(lang, norm)
	res.Confidence = conf
	return res
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

// rank scores every topic on the normalized text and returns the winner (the general
// topic when nothing scored), its score and the runner-up's score. Ties go to the
// earlier topic of the table.
func rank(norm string) (best topic, bestScore, secondScore int) {
	best = generalTopic
	for _, t := range topicTable {
		s := 0
		for _, k := range t.keywords {
			if has(norm, k.text) {
				s += k.weight
			}
		}
		switch {
		case s > bestScore:
			secondScore = bestScore
			best, bestScore = t, s
		case s > secondScore:
			secondScore = s
		}
	}
	return best, bestScore, secondScore
}

// confidence maps the winning and runner-up scores to 0..1: 0.55–0.95 for a clear
// winner (higher with a larger margin and more evidence), below 0.5 for weak evidence
// or a tie.
func confidence(best, second int) float64 {
	switch {
	case best == 0:
		return 0.2
	case best < strongScore:
		return round2(0.25 + 0.05*float64(best))
	case best == second:
		return 0.45
	}
	margin := float64(best-second) / float64(best)
	strength := math.Min(1, float64(best)/10)
	return round2(0.55 + 0.40*margin*strength)
}

// variations lists the detected variations in table order, at most maxVariations.
func variations(lang, norm string) []string {
	out := []string{}
	for _, v := range variationTable {
		for _, k := range v.keywords {
			if has(norm, k) {
				out = append(out, v.label.in(lang))
				break
			}
		}
		if len(out) == maxVariations {
			break
		}
	}
	return out
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
