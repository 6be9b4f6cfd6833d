package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Colour is a pair of CSS custom properties: a text colour on a background. Every
// pair the page uses for text is listed here, so the contrast test covers them all.
type Colour struct {
	Name   string // custom-property stem: --{Name}-fg and --{Name}-bg
	FG, BG string // #rrggbb
}

// Palette returns the page's colour pairs. Heat levels are heat0 (never asked) to
// heat{HeatLevels}.
func Palette() []Colour {
	return []Colour{
		{"page", "#1b1f24", "#ffffff"},
		{"muted", "#4f5964", "#ffffff"},
		{"link", "#0a58a8", "#ffffff"},
		{"band", "#ffffff", "#1d3557"},
		{"band-muted", "#d6e2f0", "#1d3557"},
		{"card", "#1b1f24", "#f3f6f9"},
		{"card-muted", "#4f5964", "#f3f6f9"},
		{"offline", "#5c3d00", "#fff1cc"},
		{"llm", "#0f4d2e", "#dff5e8"},
		{"warn", "#7a1d1d", "#fde8e8"},
		{"note", "#3d3d00", "#f7f4d9"},
		{"code", "#24292f", "#eef1f4"},
		{"heat0", "#5b6570", "#f6f8fa"},
		{"heat1", "#102a43", "#d9e8fb"},
		{"heat2", "#0b1f3a", "#9cc3f5"},
		{"heat3", "#ffffff", "#2f68c4"},
		{"heat4", "#ffffff", "#14336f"},
		{"easy", "#0f4d2e", "#dff5e8"},
		{"medium", "#5c3d00", "#fff1cc"},
		{"hard", "#7a1d1d", "#fde8e8"},
	}
}

// paletteCSS declares the palette as custom properties on :root.
func paletteCSS() string {
	var b strings.Builder
	b.WriteString(":root{")
	for _, c := range Palette() {
		fmt.Fprintf(&b, "--%s-fg:%s;--%s-bg:%s;", c.Name, c.FG, c.Name, c.BG)
	}
	b.WriteString("}\n")
	return b.String()
}

// ContrastRatio is the WCAG 2 contrast ratio of two #rrggbb colours, from 1 to 21.
func ContrastRatio(a, b string) (float64, error) {
	la, err := luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := luminance(b)
	if err != nil {
		return 0, err
	}
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05), nil
}

// luminance is the WCAG relative luminance of a #rrggbb colour.
func luminance(hex string) (float64, error) {
	if len(hex) != 7 || hex[0] != '#' {
		return 0, fmt.Errorf("colour %q: want #rrggbb", hex)
	}
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil {
		return 0, fmt.Errorf("colour %q: %w", hex, err)
	}
	ch := func(shift uint) float64 {
		c := float64((v>>shift)&0xff) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(16) + 0.7152*ch(8) + 0.0722*ch(0), nil
}
