package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

//go:embed report.html.tmpl
var htmlTemplate string

//go:embed style.css
var styleCSS string

//go:embed script.js
var scriptJS string

// barSteps is how many widths the ranking's bars have (classes w0..w{barSteps}).
const barSteps = 20

// ContentType is the media type of the HTML report.
const ContentType = "text/html; charset=utf-8"

// HTML writes the report of res as one self-contained HTML page: inline style and
// script, allowed by their hashes in a Content-Security-Policy that forbids every
// other source, so the page makes no request at all. Every text of the document is
// escaped by html/template.
func HTML(w io.Writer, res examina.Result) error {
	var buf bytes.Buffer
	if err := renderHTML(&buf, Build(res)); err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: writing HTML: %w", err)
	}
	return nil
}

// HTMLBytes returns the HTML report of res.
func HTMLBytes(res examina.Result) ([]byte, error) {
	var buf bytes.Buffer
	if err := renderHTML(&buf, Build(res)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// htmlView is what the template sees.
type htmlView struct {
	P        Page
	Topics   []TopicView
	CSS      template.CSS
	JS       template.JS
	CSP      string
	Apart    int
	Most     int // the largest topic's exercise count (the ranking's full bar)
	MostCell int // the largest heat-map cell
	MaxLevel int
	Levels   []int
}

// exTableView is one exercises table.
type exTableView struct {
	Items []Item
	Lang  string
	Topic string
	Loop  string
}

// flagTableView is one table of exercises listed apart.
type flagTableView struct {
	Items []Flagged
	Lang  string
	Class string
}

func renderHTML(w io.Writer, p Page) error {
	css := paletteCSS() + barCSS() + styleCSS
	js := scriptJS
	v := htmlView{
		P:        p,
		Topics:   p.Topics,
		CSS:      template.CSS(css),
		JS:       template.JS(js),
		CSP:      CSP(css, js),
		Apart:    len(p.Degraded) + len(p.LowConfidence) + len(p.Unclassified),
		MaxLevel: HeatLevels,
	}
	for _, t := range p.Topics {
		v.Most = max(v.Most, t.ExerciseCount)
	}
	for _, r := range p.Heat {
		for _, c := range r.Cells {
			v.MostCell = max(v.MostCell, c.Count)
		}
	}
	for l := 1; l <= HeatLevels; l++ {
		v.Levels = append(v.Levels, l)
	}
	t, err := template.New("report").Funcs(template.FuncMap{
		"conf":      func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
		"thousands": thousands,
		"ms":        func(ms int64) string { return duration(ms) },
		"plural":    plural,
		"join":      strings.Join,
		"barClass":  barClass,
		"exTable": func(items []Item, p Page, topic, loop string) exTableView {
			return exTableView{Items: items, Lang: p.Course.Language, Topic: topic, Loop: loop}
		},
		"flagTable": func(items []Flagged, p Page, class string) flagTableView {
			return flagTableView{Items: items, Lang: p.Course.Language, Class: class}
		},
	}).Parse(htmlTemplate)
	if err != nil {
		return fmt.Errorf("report: parsing the HTML template: %w", err)
	}
	if err := t.Execute(w, v); err != nil {
		return fmt.Errorf("report: rendering HTML: %w", err)
	}
	return nil
}

// CSP is the page's Content-Security-Policy: nothing may load, connect, embed or
// submit; only the page's own style and script run, named by their SHA-256 hashes.
func CSP(css, js string) string {
	return "default-src 'none'; style-src '" + hash(css) + "'; script-src '" + hash(js) +
		"'; img-src data:; base-uri 'none'; form-action 'none'"
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// barCSS declares the widths of the ranking's bars.
func barCSS() string {
	var b strings.Builder
	for i := 0; i <= barSteps; i++ {
		fmt.Fprintf(&b, ".w%d{width:%d%%}", i, i*100/barSteps)
	}
	b.WriteByte('\n')
	return b.String()
}

// barClass is the width class of a bar of n when the full bar is most; a non-zero n
// is never drawn empty.
func barClass(n, most int) string {
	if most <= 0 || n <= 0 {
		return "w0"
	}
	return "w" + strconv.Itoa(max(1, (n*barSteps+most/2)/most))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// thousands writes n with thin-space-free comma grouping: 34954 → 34,954.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// duration is a run time as people read it: 27ms, 4.2s, 3m12s.
func duration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return strconv.FormatInt(ms, 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}
