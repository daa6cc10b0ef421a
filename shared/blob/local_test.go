package blob

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/blobtest"
	"github.com/privops/privops/shared/privacy"
)

func newLocal(tb testing.TB) *Local {
	tb.Helper()
	l, err := NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatalf("NewLocal: %v", err)
	}
	return l
}

func TestLocal(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) privacy.Blobs { return newLocal(t) })
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		blob    string
		wantErr bool
	}{
		{"plain", "acme/requests/r1/export.zip", false},
		{"one segment", "acme", false},
		{"dots inside a segment", "acme/r1/export.v2.zip", false},
		{"spaces and unicode", "acme/r 1/résumé.csv", false},
		{"empty", "", true},
		{"absolute", "/acme/r1/export.zip", true},
		{"parent segment", "acme/../globex/export.zip", true},
		{"parent at the start", "../export.zip", true},
		{"two dots inside a segment", "acme/r1/export..zip", true},
		{"dot segment", "acme/./r1", true},
		{"hidden segment", "acme/.put-1.partial", true},
		{"backslash", `acme\r1\export.zip`, true},
		{"NUL", "acme/r1\x00/export.zip", true},
		{"empty segment", "acme//r1", true},
		{"trailing slash", "acme/r1/", true},
		{"only a slash", "/", true},
		{"too long", "acme/" + strings.Repeat("x", 1024), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := checkName(tt.blob); errors.Is(err, errName) != tt.wantErr {
				t.Fatalf("checkName(%q) = %v, want an error: %t", tt.blob, err, tt.wantErr)
			}
		})
	}
}

// TestLocalRejectsNames: every method refuses a bad name with a plain error
// (not ErrNotFound: that would hide a bug) and touches nothing.
func TestLocalRejectsNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "/etc/passwd", "acme/../../escape", `acme\x`, "acme/\x00", "acme//x", "acme/.hidden"} {
		t.Run(strings.ReplaceAll(name, "\x00", "NUL"), func(t *testing.T) {
			t.Parallel()
			l := newLocal(t)
			if _, err := l.Put(t.Context(), name, strings.NewReader("x")); !errors.Is(err, errName) {
				t.Errorf("Put: %v, want a name error", err)
			}
			if rc, _, err := l.Open(t.Context(), name); !errors.Is(err, errName) || errors.Is(err, privacy.ErrNotFound) {
				if rc != nil {
					rc.Close()
				}
				t.Errorf("Open: %v, want a name error", err)
			}
			if err := l.Delete(t.Context(), name); !errors.Is(err, errName) {
				t.Errorf("Delete: %v, want a name error", err)
			}
			if got := files(t, l.dir); len(got) != 0 {
				t.Errorf("files after refused calls: %v", got)
			}
		})
	}
}

// TestLocalFiles checks what is on disk: no temporary file outlives a Put,
// blobs are private to the user, and a Delete takes the folders it emptied.
func TestLocalFiles(t *testing.T) {
	t.Parallel()
	l := newLocal(t)
	ctx := t.Context()
	if _, err := l.Put(ctx, "acme/requests/r1/export.zip", strings.NewReader("zip")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Put(ctx, "acme/requests/r2/export.zip", io.MultiReader(strings.NewReader("part"), errReader{})); err == nil {
		t.Fatal("Put from a failing source succeeded")
	}
	if _, err := l.Put(ctx, "acme/evidence/e1.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	want := []string{"acme/evidence/e1.json", "acme/requests/r1/export.zip"}
	if diff := cmp.Diff(want, files(t, l.dir)); diff != "" {
		t.Errorf("files after two Puts and a failed one (-want +got):\n%s", diff)
	}
	if runtime.GOOS != "windows" {
		info, err := os.Stat(filepath.Join(l.dir, "acme", "requests", "r1", "export.zip"))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("blob file mode %v, want 0600", perm)
		}
	}

	if err := l.Delete(ctx, "acme/requests/r1/export.zip"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.dir, "acme", "requests")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the emptied folder acme/requests is still there: %v", err)
	}
	if err := l.Delete(ctx, "acme/evidence/e1.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.dir); err != nil {
		t.Errorf("Delete removed the root folder: %v", err)
	}
	if got := files(t, l.dir); len(got) != 0 {
		t.Errorf("files after deleting every blob: %v", got)
	}
}

// TestLocalPutMemoryBounded streams 64 MiB and checks that the heap grew by
// far less. It does not run in parallel, so the allocation count is its own.
func TestLocalPutMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 64 MiB to disk")
	}
	const size = 64 << 20
	l := newLocal(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := l.Put(t.Context(), "acme/requests/r1/export.zip", io.LimitReader(zeros{}, size))
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("Put = %d, %v", n, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("a %d MiB Put allocated %d KiB", size>>20, grew>>10)
	}
}

// files lists the regular files under dir, slash-separated and relative.
func files(tb testing.TB, dir string) []string {
	tb.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		got = append(got, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("source failed") }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
