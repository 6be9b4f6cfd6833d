package cost

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

//go:embed prices.json
var builtinPrices []byte

// Price is what one model costs, in USD per million tokens.
type Price struct {
	InputPerMTok  float64 `json:"input_per_mtok"`
	OutputPerMTok float64 `json:"output_per_mtok"`
	// Checked is the day the figures were checked against Source (YYYY-MM-DD).
	Checked string `json:"checked,omitempty"`
	// Source is the provider's public price page (default: the provider's).
	Source string `json:"source,omitempty"`
}

// ProviderPrices are one provider's models.
type ProviderPrices struct {
	// Source is the provider's public price page.
	Source string `json:"source,omitempty"`
	// Local marks a provider that runs on this machine: every model costs 0.
	Local  bool             `json:"local,omitempty"`
	Models map[string]Price `json:"models"`
}

// File is the format of the price table: the embedded one and a --prices file.
type File struct {
	Note      string                    `json:"note,omitempty"`
	Providers map[string]ProviderPrices `json:"providers"`
}

// Table is a price table. The zero value knows no prices.
type Table struct {
	providers map[string]ProviderPrices
	origin    map[string]string // provider/model (or provider/) → where the entry came from
}

// Quote is the price of the provider and model of a run.
type Quote struct {
	Provider, Model string
	Price
	// Known is false when the table has no price for the model: its cost is unknown,
	// never 0.
	Known bool
	// Local is true for a server on this machine (price 0).
	Local bool
	// Origin says where the price came from: "built-in", the --prices file, or
	// "local".
	Origin string
}

// Builtin returns the embedded price table.
func Builtin() (*Table, error) {
	t := &Table{}
	if err := t.merge(bytes.NewReader(builtinPrices), "built-in"); err != nil {
		return nil, fmt.Errorf("cost: the built-in price table: %w", err)
	}
	return t, nil
}

// LoadFile returns the built-in table overridden by the price file at path (same
// format as the built-in one; an entry for a provider and model replaces the built-in
// entry, the others stay). An unreadable or malformed file is an error naming it.
func LoadFile(path string) (*Table, error) {
	t, err := Builtin()
	if err != nil || path == "" {
		return t, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the price file: %w", err)
	}
	defer f.Close()
	if err := t.merge(f, path); err != nil {
		return nil, fmt.Errorf("price file %s: %w (see README, \"Prices\")", path, err)
	}
	return t, nil
}

// Merge overrides t with the price file read from r; origin names it in quotes.
func (t *Table) Merge(r io.Reader, origin string) error { return t.merge(r, origin) }

func (t *Table) merge(r io.Reader, origin string) error {
	dec := json.NewDecoder(io.LimitReader(r, 4<<20))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("not a price file: %w", err)
	}
	if f.Providers == nil {
		return fmt.Errorf(`no "providers" object`)
	}
	if t.providers == nil {
		t.providers = map[string]ProviderPrices{}
		t.origin = map[string]string{}
	}
	for _, name := range sortedKeys(f.Providers) {
		p := f.Providers[name]
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("a provider with an empty name")
		}
		cur := t.providers[name]
		if cur.Models == nil {
			cur.Models = map[string]Price{}
		}
		if p.Source != "" {
			cur.Source = p.Source
		}
		if p.Local {
			cur.Local = true
			t.origin[name+"/"] = origin
		}
		for _, model := range sortedKeys(p.Models) {
			pr := p.Models[model]
			where := fmt.Sprintf("providers.%s.models.%q", name, model)
			if strings.TrimSpace(model) == "" {
				return fmt.Errorf("providers.%s: a model with an empty name", name)
			}
			if bad(pr.InputPerMTok) || bad(pr.OutputPerMTok) {
				return fmt.Errorf("%s: input_per_mtok and output_per_mtok must be numbers of at least 0", where)
			}
			if pr.Checked != "" {
				if _, err := time.Parse(time.DateOnly, pr.Checked); err != nil {
					return fmt.Errorf("%s: checked %q is not a date (YYYY-MM-DD)", where, pr.Checked)
				}
			}
			cur.Models[model] = pr
			t.origin[name+"/"+model] = origin
		}
		t.providers[name] = cur
	}
	return nil
}

func bad(f float64) bool { return f < 0 || math.IsNaN(f) || math.IsInf(f, 0) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Lookup returns the price of provider's model. A model is found by its exact name,
// else by the longest listed name it extends with "-" or ":" (a dated snapshot such as
// claude-haiku-4-5-20251001 takes claude-haiku-4-5's price). A provider marked local,
// or a baseURL on this machine (localhost, a loopback address), costs 0, unless a price
// file names the model exactly. Otherwise an
// unlisted model's Quote has Known false.
func (t *Table) Lookup(provider, model, baseURL string) Quote {
	q := Quote{Provider: provider, Model: model}
	p := t.providers[provider]
	if pr, ok := p.Models[model]; ok && t.origin[provider+"/"+model] != "built-in" {
		// A model named in a price file wins, even on a local URL (a tunnel to a paid
		// endpoint, a metered gateway).
		q.Price, q.Known, q.Origin = pr, true, t.origin[provider+"/"+model]
		if q.Source == "" {
			q.Source = p.Source
		}
		return q
	}
	if p.Local || LocalURL(baseURL) {
		q.Known, q.Local, q.Origin = true, true, "local"
		q.Source = "runs on this machine"
		return q
	}
	name, ok := model, false
	if _, ok = p.Models[model]; !ok {
		best := ""
		for m := range p.Models {
			if len(m) > len(best) && len(model) > len(m) && strings.HasPrefix(model, m) && (model[len(m)] == '-' || model[len(m)] == ':') {
				best = m
			}
		}
		name, ok = best, best != ""
	}
	if !ok {
		return q
	}
	q.Price = p.Models[name]
	if q.Source == "" {
		q.Source = p.Source
	}
	q.Known = true
	q.Origin = t.origin[provider+"/"+name]
	return q
}

// LocalURL reports whether baseURL points at this machine: localhost (or a name under
// .localhost) or a loopback address. An empty URL is not local.
func LocalURL(baseURL string) bool {
	if baseURL == "" {
		return false
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Nanos is the cost of in input and out output tokens in nano-USD (1e-9 USD), rounded
// up: the unit the Ledger counts in, exact in integers.
func (p Price) Nanos(in, out int) int64 {
	return int64(math.Ceil(float64(in)*p.InputPerMTok*1e3 + float64(out)*p.OutputPerMTok*1e3))
}

// USD is the cost of in input and out output tokens.
func (p Price) USD(in, out int) float64 { return NanosToUSD(p.Nanos(in, out)) }

// NanosToUSD converts nano-USD to USD.
func NanosToUSD(n int64) float64 { return float64(n) / 1e9 }

// USDToNanos converts USD to nano-USD, rounded down (a cap is never raised by rounding).
func USDToNanos(usd float64) int64 { return int64(math.Floor(usd * 1e9)) }

// FormatUSD renders an amount for people: more decimals for small amounts, so a cent
// fraction is not shown as $0.00.
func FormatUSD(usd float64) string {
	switch {
	case usd == 0:
		return "$0"
	case usd < 0.01:
		return fmt.Sprintf("$%.6f", usd)
	case usd < 10:
		return fmt.Sprintf("$%.4f", usd)
	}
	return fmt.Sprintf("$%.2f", usd)
}
