package main

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tree writes files (slash path -> mode) under a new folder, each holding its
// own name.
func tree(tb testing.TB, files map[string]fs.FileMode) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, mode := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			tb.Fatal(err)
		}
	}
	return dir
}

type entry struct {
	Name string
	Mode fs.FileMode
	Unix bool
	Body string
}

func read(tb testing.TB, path string) []entry {
	tb.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	var out []entry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, entry{Name: f.Name, Mode: f.Mode(), Unix: f.CreatorVersion>>8 == 3, Body: string(b)})
	}
	return out
}

func TestZipKeepsModesInLexicalOrder(t *testing.T) {
	t.Parallel()
	dir := tree(t, map[string]fs.FileMode{
		"host.json":           0o644,
		"handler":             0o755,
		"tasks/function.json": 0o644,
		"admin/function.json": 0o644,
	})
	out := filepath.Join(t.TempDir(), "app.zip")
	if err := run(out, dir); err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{Name: "admin/", Mode: fs.ModeDir | 0o755, Unix: true},
		{Name: "admin/function.json", Mode: 0o644, Unix: true, Body: "admin/function.json"},
		{Name: "handler", Mode: 0o755, Unix: true, Body: "handler"},
		{Name: "host.json", Mode: 0o644, Unix: true, Body: "host.json"},
		{Name: "tasks/", Mode: fs.ModeDir | 0o755, Unix: true},
		{Name: "tasks/function.json", Mode: 0o644, Unix: true, Body: "tasks/function.json"},
	}
	if d := cmp.Diff(want, read(t, out)); d != "" {
		t.Errorf("archive (-want +got):\n%s", d)
	}

	// The same tree gives the same bytes.
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := run(out, dir); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("two archives of the same tree differ")
	}
}

func TestZipRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(tb testing.TB) (out, dir string)
	}{
		{"a symbolic link", func(tb testing.TB) (string, string) {
			dir := tree(tb, map[string]fs.FileMode{"handler": 0o755})
			if err := os.Symlink("handler", filepath.Join(dir, "link")); err != nil {
				tb.Skip("no symbolic links here:", err)
			}
			return filepath.Join(tb.TempDir(), "app.zip"), dir
		}},
		{"an archive inside the tree", func(tb testing.TB) (string, string) {
			dir := tree(tb, map[string]fs.FileMode{"handler": 0o755})
			return filepath.Join(dir, "app.zip"), dir
		}},
		{"a missing tree", func(tb testing.TB) (string, string) {
			return filepath.Join(tb.TempDir(), "app.zip"), filepath.Join(tb.TempDir(), "missing")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, dir := tt.setup(t)
			if err := run(out, dir); err == nil {
				t.Fatal("no error")
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an archive was left behind")
			}
		})
	}
}
