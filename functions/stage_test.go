package main

import (
	"archive/zip"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStage runs what operators run, `go tool -modfile=tools/task/go.mod task stage`, into a temporary
// folder (BUILD=<dir>), and checks the result is what the Functions host
// needs: host.json at the root, one <name>/function.json per function folder
// and nothing else, the linux/amd64 static handler that host.json names, with
// its executable bit, every %SETTING% and connection resolvable from the app
// settings main.bicep declares, and a zip holding the same files with the
// handler's mode.
func TestStage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: staging builds the linux/amd64 handler with `go tool -modfile=tools/task/go.mod task stage`, which takes tens of seconds")
	}
	build := runTask(t, "stage")
	app := filepath.Join(build, "functionapp")
	staged := stagedFiles(t, app)

	var functions []string
	t.Run("layout", func(t *testing.T) {
		sources, err := filepath.Glob("*/function.json")
		if err != nil || len(sources) == 0 {
			t.Fatalf("no functions/*/function.json (%v)", err)
		}
		want := []string{"handler", "host.json"}
		for _, src := range sources {
			functions = append(functions, filepath.Dir(src))
			want = append(want, filepath.ToSlash(src))
			sameBytes(t, src, filepath.Join(app, src))
		}
		sameBytes(t, "../host.json", filepath.Join(app, "host.json"))
		var got []string
		for name := range staged {
			got = append(got, name)
		}
		slices.Sort(want)
		slices.Sort(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("staged files (-want +got):\n%s", d)
		}
		entries, err := os.ReadDir(app)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() && !slices.Contains(functions, e.Name()) {
				t.Errorf("staged folder %s is not a function folder", e.Name())
			}
		}
	})

	t.Run("handler", func(t *testing.T) {
		host := readHostJSON(t, filepath.Join(app, "host.json"))
		exe := host.CustomHandler.Description.DefaultExecutablePath
		if exe != "handler" || path.Base(exe) != exe {
			t.Fatalf("host.json defaultExecutablePath %q, want the staged binary's file name, handler", exe)
		}
		if wd := host.CustomHandler.Description.WorkingDirectory; wd != "" && wd != "." {
			t.Errorf("host.json workingDirectory %q: the handler's relative paths start from the app root", wd)
		}
		mode, ok := staged[exe]
		if !ok {
			t.Fatalf("the staged tree has no %s", exe)
		}
		if mode.Perm()&0o111 != 0o111 {
			t.Errorf("%s has mode %s, want executable (0755)", exe, mode)
		}
		f, err := elf.Open(filepath.Join(app, exe))
		if err != nil {
			t.Fatalf("%s is not an ELF file: %v", exe, err)
		}
		defer f.Close()
		if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
			t.Errorf("%s is %s %s %s, want an ELFCLASS64 EM_X86_64 ET_EXEC executable", exe, f.Class, f.Machine, f.Type)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s asks for a dynamic loader: it must be static (CGO_ENABLED=0)", exe)
			}
		}
		info, err := buildinfo.ReadFile(filepath.Join(app, exe))
		if err != nil {
			t.Fatalf("%s: %v", exe, err)
		}
		// The Functions build leaves out the AWS Lambda host and SQS (README, Builds).
		want := map[string]string{"GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0", "-trimpath": "true", "-tags": "privops_functions"}
		for _, s := range info.Settings {
			if w, ok := want[s.Key]; ok && s.Value == w {
				delete(want, s.Key)
			}
		}
		if len(want) > 0 {
			t.Errorf("%s was not built with %v (build settings %v)", exe, want, info.Settings)
		}
		if info.Path != "github.com/privops/privops/functions" {
			t.Errorf("%s is built from %s, want ./functions", exe, info.Path)
		}
		for _, d := range info.Deps {
			if strings.HasPrefix(d.Path, "github.com/aws/") {
				t.Errorf("%s links %s: the Functions build must not link the AWS SDK", exe, d.Path)
			}
		}
		if !slices.ContainsFunc(info.Deps, func(d *debug.Module) bool { return d.Path == "github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos" }) {
			t.Errorf("%s does not link azcosmos: the Functions build needs the Azure adapters", exe)
		}
	})

	t.Run("settings", func(t *testing.T) {
		in := loadInfra(t)
		for _, fn := range functions {
			raw, err := os.ReadFile(filepath.Join(app, fn, "function.json"))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ Bindings []map[string]any }
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("%s/function.json: %v", fn, err)
			}
			for _, props := range doc.Bindings {
				b := binding{Function: fn, Props: props}
				for name, prop := range b.settingRefs() {
					if _, ok := in.settings[name]; !ok {
						t.Errorf("%s: %s names %%%s%%, which main.bicep's app settings do not set", fn, prop, name)
					}
				}
				if c := b.str("connection"); c != "" && !hasPrefixedSetting(in.settings, c+"__") {
					t.Errorf("%s: connection %s has no %s__* app setting in main.bicep", fn, c, c)
				}
			}
		}
	})

	t.Run("zip", func(t *testing.T) {
		zr, err := zip.OpenReader(filepath.Join(build, "functionapp.zip"))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		zipped := map[string]fs.FileMode{}
		for _, f := range zr.File {
			name := f.Name
			if strings.HasPrefix(name, "/") || strings.HasPrefix(name, "./") || strings.Contains(name, `\`) ||
				slices.Contains(strings.Split(name, "/"), "..") {
				t.Errorf("zip entry %q is not a plain relative path", name)
			}
			if f.FileInfo().IsDir() {
				continue
			}
			if f.CreatorVersion>>8 != 3 { // 3: Unix, whose mode bits the host reads
				t.Errorf("zip entry %s was not made by a Unix creator (%d): its mode is lost", name, f.CreatorVersion>>8)
			}
			zipped[name] = f.Mode()
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				t.Fatalf("zip entry %s: %v", name, err)
			}
			disk, err := os.ReadFile(filepath.Join(app, filepath.FromSlash(name)))
			if err != nil {
				t.Errorf("zip entry %s is not in the staged tree: %v", name, err)
				continue
			}
			if !bytes.Equal(body, disk) {
				t.Errorf("zip entry %s differs from the staged file", name)
			}
		}
		if d := cmp.Diff(staged, zipped); d != "" {
			t.Errorf("zip entries and modes vs the staged tree (-staged +zip):\n%s", d)
		}
		if zipped["handler"].Perm()&0o111 != 0o111 {
			t.Errorf("the zipped handler has mode %s, want 0755", zipped["handler"])
		}
	})
}

// runTask runs `go tool -modfile=tools/task/go.mod task <name> BUILD=<dir>` from
// the repository root into a temporary folder, which it returns.
func runTask(t *testing.T, name string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	build := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "go", "tool", "-modfile=tools/task/go.mod", "task", name, "BUILD="+build)
	cmd.Dir = root
	// The task sets the target platform for the binary itself; a platform
	// in the test's environment must not leak into its other steps.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "GOOS" && k != "GOARCH" && k != "CGO_ENABLED" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go tool -modfile=tools/task/go.mod task %s BUILD=%s: %v\n%s", name, build, err, out)
	}
	return build
}

// stagedFiles returns the regular files under dir (slash paths) and their
// modes (permission bits).
func stagedFiles(tb testing.TB, dir string) map[string]fs.FileMode {
	tb.Helper()
	out := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			tb.Errorf("%s is not a regular file (%s)", p, info.Mode())
		}
		rel, err := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = info.Mode().Perm()
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func sameBytes(tb testing.TB, want, got string) {
	tb.Helper()
	a, err := os.ReadFile(want)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		tb.Errorf("%s is not staged: %v", want, err)
		return
	}
	if !bytes.Equal(a, b) {
		tb.Errorf("staged %s differs from %s", got, want)
	}
}

func hasPrefixedSetting(settings map[string]string, prefix string) bool {
	for name := range settings {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}
