package emulator

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseShebang(t *testing.T) {
	tests := []struct{ line, want string }{
		{"#!/home/u/.local/pipx/venvs/moto/bin/python\n", "/home/u/.local/pipx/venvs/moto/bin/python"},
		{"#!/opt/venv/bin/python3.11", "/opt/venv/bin/python3.11"},
		{"#!/usr/bin/env python3", "python3"},
		{"#!/usr/bin/env -S python3 -u", "python3"},
		{"#!/usr/bin/env bash", ""}, // a pyenv shim
		{"#!/bin/sh", ""},
		{"import sys", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := parseShebang(tc.line); got != tc.want {
			t.Errorf("parseShebang(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

// A moto installed by pipx or in a venv: moto_server's shebang names the only
// python that imports moto, and no python3 on PATH can (issue 14, item 11).
func TestFindPythonFollowsMotoServerShebang(t *testing.T) {
	real, err := FindPython(context.Background())
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The interpreter itself, not a pyenv shim (shims dispatch on their name).
	out, err := exec.Command(real, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	real = strings.TrimSpace(string(out))
	// The venv's interpreter, found only through the script's shebang.
	venv := filepath.Join(t.TempDir(), "venv", "bin")
	if err := os.MkdirAll(venv, 0o755); err != nil {
		t.Fatal(err)
	}
	interp := filepath.Join(venv, "python-moto")
	if err := os.Symlink(real, interp); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := "#!" + interp + "\nimport sys\nfrom moto.server import main\nsys.exit(main())\n"
	if err := os.WriteFile(filepath.Join(bin, "moto_server"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// python3 on PATH cannot import moto.
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("EXAMINA_MOTO_PYTHON", "")
	got, err := FindPython(context.Background())
	if err != nil || got != interp {
		t.Fatalf("FindPython() = %q, %v, want %q", got, err, interp)
	}
}

func TestFindPythonWithoutMoto(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("EXAMINA_MOTO_PYTHON", "")
	if _, err := FindPython(context.Background()); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("FindPython() error = %v, want ErrNotInstalled", err)
	}
	t.Setenv("EXAMINA_MOTO_PYTHON", filepath.Join(bin, "python3"))
	if _, err := FindPython(context.Background()); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("FindPython() with a bad EXAMINA_MOTO_PYTHON: %v, want ErrNotInstalled", err)
	}
}
