// Package bench holds the benchmark scenarios behind `examina bench`: each scenario is
// a function that runs the real pipeline (Analyzer, Runner, the embedded store, merge)
// against simulated or fake providers and returns its figures, the targets they are
// measured against and the command that reproduces them. It also holds the "waves"
// scheduler of the original tool, kept only as a baseline, and the AWS request counter
// and price model of the cloud scenario.
//
// Scenarios never judge speed by themselves: they measure and report. Tests check that
// they run and produce consistent figures, not how fast.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the JSON report of one `examina bench` invocation.
type Report struct {
	Machine   Machine     `json:"machine"`
	Scenarios []*Scenario `json:"scenarios"`
}

// Machine describes where the figures were measured.
type Machine struct {
	GOOS       string    `json:"goos"`
	GOARCH     string    `json:"goarch"`
	NumCPU     int       `json:"num_cpu"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	GoVersion  string    `json:"go_version"`
	At         time.Time `json:"at"`
}

// ThisMachine describes the running machine at time now.
func ThisMachine(now time.Time) Machine {
	return Machine{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), At: now.UTC(),
	}
}

// Column is one column of a scenario's table: the key of the row value it shows, its
// heading and its fmt verb (e.g. "%.2f").
type Column struct {
	Key    string `json:"key"`
	Title  string `json:"title"`
	Format string `json:"format"`
}

// Row is one line of a scenario's table, e.g. one schedule. Values are keyed by
// Column.Key; a missing value prints as "-".
type Row struct {
	Name   string             `json:"name"`
	Values map[string]float64 `json:"values"`
	// Note is an optional remark printed after the row (e.g. "not available yet").
	Note string `json:"note,omitempty"`
}

// Target is one figure the issue asks for, compared with its bound.
type Target struct {
	Name string  `json:"name"`
	Got  float64 `json:"got"`
	// Op is ">=" or "<=": Got Op Want must hold.
	Op   string  `json:"op"`
	Want float64 `json:"want"`
	Unit string  `json:"unit,omitempty"`
	Met  bool    `json:"met"`
	// Skipped is set when the figure could not be measured in this run (Got is then
	// meaningless); Met is false.
	Skipped string `json:"skipped,omitempty"`
}

// Scenario is what one scenario measured.
type Scenario struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Command string `json:"command"`
	// Params are the scenario's settings (exercises, batch size, latencies...).
	Params  map[string]any `json:"params"`
	Columns []Column       `json:"columns"`
	Rows    []Row          `json:"rows"`
	Targets []Target       `json:"targets"`
	// Figures are scalar results that are not part of the table (e.g. peak memory).
	Figures map[string]float64 `json:"figures,omitempty"`
	Notes   []string           `json:"notes,omitempty"`
	// Elapsed is the wall time of the whole scenario.
	ElapsedMS float64 `json:"elapsed_ms"`
}

// target appends a target, computing Met.
func (s *Scenario) target(name, op string, got, want float64, unit string) {
	met := got >= want
	if op == "<=" {
		met = got <= want
	}
	if math.IsNaN(got) || math.IsInf(got, 0) {
		met = false
	}
	s.Targets = append(s.Targets, Target{Name: name, Got: got, Op: op, Want: want, Unit: unit, Met: met})
}

// skip appends a target that could not be measured, with the reason.
func (s *Scenario) skip(name, op string, want float64, unit, reason string) {
	s.Targets = append(s.Targets, Target{Name: name, Op: op, Want: want, Unit: unit, Skipped: reason})
}

// figure records a scalar result.
func (s *Scenario) figure(key string, v float64) {
	if s.Figures == nil {
		s.Figures = map[string]float64{}
	}
	s.Figures[key] = v
}

// Row returns the row called name, or nil.
func (s *Scenario) Row(name string) *Row {
	for i := range s.Rows {
		if s.Rows[i].Name == name {
			return &s.Rows[i]
		}
	}
	return nil
}

// Print writes the scenario as a human-readable table with its targets and notes.
func (s *Scenario) Print(w io.Writer) error {
	fmt.Fprintf(w, "== %s: %s\n", s.Name, s.Title)
	fmt.Fprintf(w, "   reproduce: %s\n", s.Command)
	if len(s.Columns) > 0 && len(s.Rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		var head strings.Builder
		head.WriteString("\t")
		for _, c := range s.Columns {
			head.WriteString(c.Title + "\t")
		}
		fmt.Fprintln(tw, head.String())
		for _, r := range s.Rows {
			var line strings.Builder
			line.WriteString(r.Name + "\t")
			for _, c := range s.Columns {
				v, ok := r.Values[c.Key]
				if !ok {
					line.WriteString("-\t")
					continue
				}
				line.WriteString(fmt.Sprintf(c.Format, v) + "\t")
			}
			if r.Note != "" {
				line.WriteString(" " + r.Note)
			}
			fmt.Fprintln(tw, line.String())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(s.Figures) > 0 {
		keys := make([]string, 0, len(s.Figures))
		for k := range s.Figures {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "   %s = %s\n", k, trimFloat(s.Figures[k]))
		}
	}
	for _, t := range s.Targets {
		mark := "MET "
		switch {
		case t.Skipped != "":
			mark = "SKIP"
		case !t.Met:
			mark = "MISS"
		}
		if t.Skipped != "" {
			fmt.Fprintf(w, "   [%s] %s %s %s%s: %s\n", mark, t.Name, t.Op, trimFloat(t.Want), t.Unit, t.Skipped)
			continue
		}
		fmt.Fprintf(w, "   [%s] %s = %s%s (target %s %s%s)\n", mark, t.Name, trimFloat(t.Got), t.Unit, t.Op, trimFloat(t.Want), t.Unit)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "   note: %s\n", n)
	}
	_, err := fmt.Fprintf(w, "   (scenario took %.1fs)\n\n", s.ElapsedMS/1000)
	return err
}

// WriteJSON writes the report, indented, to path ("-" for w).
func (r *Report) WriteJSON(path string, w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = w.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// trimFloat prints v with up to 3 decimals and no trailing zeros; below 0.1, with 3
// significant digits (prices per exercise are small).
func trimFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	if math.Abs(v) < 0.1 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
