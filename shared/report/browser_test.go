package report_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/report"
)

// chromium returns the headless browser to test with: $EXAMINA_CHROMIUM, or chromium
// on the PATH (Debian's package installs /usr/bin/chromium; scripts/test installs it
// when missing). Without one the test skips, and fails under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EXAMINA_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no headless Chromium: install Debian's chromium package (apt-get install -y chromium; scripts/test does it) or set EXAMINA_CHROMIUM")
	}
	t.Skip("no headless Chromium (apt-get install -y chromium, or set EXAMINA_CHROMIUM); under CI=true this fails")
	return ""
}

// artifactDir is where the browser test leaves its screenshots and pages for people
// to look at: $EXAMINA_ARTIFACTS, or $TMPDIR/examina-report.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EXAMINA_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "examina-report")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runChromium runs the browser on the file at page with the network off: every host
// name resolves to nothing, QUIC and every background service are disabled, and the
// profile is a fresh empty directory. It returns stdout and stderr.
func runChromium(t *testing.T, bin, page string, extra ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps",
		"--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--hide-scrollbars",
	}
	args = append(append(args, extra...), "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(extra, " "), err, tail(stderr.String(), 2000))
	}
	return stdout.String(), stderr.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// domText escapes s as Chromium serialises a text node.
func domText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;").Replace(s)
}

// domAttr escapes s as Chromium serialises an attribute value.
func domAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;", "\u00a0", "&nbsp;").Replace(s)
}

// TestBrowserRendersEverything loads each report from disk in headless Chromium with
// the network off, reads the rendered DOM and checks that every topic, core loop and
// exercise of the document is on the page, that the page's own script ran (the CSP
// admitted it) and that the browser refused nothing; then it saves screenshots.
func TestBrowserRendersEverything(t *testing.T) {
	bin := chromium(t)
	out := artifactDir(t)
	for name, res := range map[string]examina.Result{"ade": adeResult(t), "edge": edgeResult()} {
		t.Run(name, func(t *testing.T) {
			html, err := report.HTMLBytes(res)
			if err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(out, name+".html")
			if err := os.WriteFile(page, html, 0o644); err != nil {
				t.Fatal(err)
			}
			dom, logs := runChromium(t, bin, page, "--dump-dom")
			checkDOM(t, dom, res)
			if strings.Contains(logs, "Refused to") || strings.Contains(logs, "Content Security Policy") {
				t.Errorf("the browser refused part of the page:\n%s", tail(logs, 3000))
			}
			for _, shot := range []struct {
				file string
				w, h int
			}{{name + "-desktop.png", 1280, 2400}, {name + "-phone.png", 390, 2400}} {
				path := filepath.Join(out, shot.file)
				os.Remove(path)
				runChromium(t, bin, page, "--screenshot="+path, "--window-size="+itoa(shot.w)+","+itoa(shot.h))
				f, err := os.Open(path)
				if err != nil {
					t.Fatalf("no screenshot: %v", err)
				}
				cfg, err := png.DecodeConfig(f)
				f.Close()
				if err != nil || cfg.Width != shot.w || cfg.Height != shot.h {
					t.Errorf("%s: %dx%d, %v; want a %dx%d PNG", path, cfg.Width, cfg.Height, err, shot.w, shot.h)
				}
				t.Logf("screenshot: %s", path)
			}
		})
	}
}

func checkDOM(t *testing.T, dom string, res examina.Result) {
	t.Helper()
	if !strings.Contains(dom, `data-script="ready"`) {
		t.Error("the page's script did not run (blocked by the CSP, or an error)")
	}
	if !strings.Contains(dom, `id="filter"`) {
		t.Error("the filter the script adds is not in the DOM")
	}
	has := func(what, s string) {
		t.Helper()
		if !strings.Contains(dom, s) {
			t.Errorf("rendered DOM lacks %s %q", what, s)
		}
	}
	has("the course", domText(res.Course.Name))
	has("the provider", domText(res.Provider))
	for _, tp := range res.Topics {
		has("topic", domText(tp.Name))
		for _, id := range tp.CoreLoops {
			has("core loop id", domText(id))
		}
	}
	for _, l := range res.CoreLoops {
		has("core loop", domText(l.Name))
		for _, step := range l.Procedure {
			has("procedure step", domText(step))
		}
	}
	for _, m := range res.MergedExercises {
		has("merged exercise", `data-exercise="`+domAttr(m.ID)+`"`)
		for _, id := range m.MergedFrom {
			has("exercise id", domText(id))
		}
	}
	p := report.Build(res)
	items := 0
	for _, tp := range p.Topics {
		for _, l := range tp.CoreLoops {
			for _, it := range l.Exercises {
				has("exercise text", domText(it.Excerpt[0]))
				items++
			}
		}
		for _, it := range tp.Loose {
			has("exercise text", domText(it.Excerpt[0]))
			items++
		}
	}
	for _, fs := range [][]report.Flagged{p.Degraded, p.LowConfidence, p.Unclassified, p.Dropped} {
		for _, f := range fs {
			has("exercise listed apart", `data-exercise="`+domAttr(f.ID)+`"`)
			has("reason", domText(f.Reason))
			items++
		}
	}
	for _, e := range res.Exercises {
		has("exercise", domText(e.ID))
	}
	if rows := strings.Count(dom, "data-exercise="); rows != items {
		t.Errorf("%d exercise rows in the DOM, the page has %d items", rows, items)
	}
}
