// Package blob holds the adapters of the blob port (privacy.Blobs), where
// export packages, per-task export files and evidence are kept: Local, a
// folder on the machine for the standalone host, and Azure, a Blob storage
// container for the Functions and Lambda hosts. Both stream, so memory stays
// bounded whatever a blob's size, and both replace a blob atomically, so a
// reader sees the old blob or the whole new one, never a part.
//
// Blob names are slash-separated paths that start with the tenant id
// ("acme/requests/r1/export.zip"). Callers build them from ids, never from
// user input; both adapters refuse a malformed name with a plain error (see
// checkName), so that a name that works on one host works on the others.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/privops/privops/shared/privacy"
)

// Local keeps blobs as files under one folder: the blob "acme/r1/x.zip" is
// the file <dir>/acme/r1/x.zip. A Put writes a hidden temporary file beside
// its target, syncs it and renames it over the target, which POSIX makes
// atomic. Files are private to the process's user (0600, folders 0700):
// export packages hold personal data.
//
// Unlike a Blob storage container, a folder cannot hold both "a/b" and
// "a/b/c": the second Put fails.
type Local struct {
	dir string
}

var _ privacy.Blobs = (*Local)(nil)

// copyBufferSize is the size of the one buffer a Put streams through.
const copyBufferSize = 64 << 10

// mkdirAttempts bounds how often a Put re-creates its folder when a
// concurrent Delete removed it as empty between the two steps.
const mkdirAttempts = 3

// NewLocal returns the adapter on dir, creating the folder if needed.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("blob folder is not set")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob folder: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create blob folder: %w", err)
	}
	return &Local{dir: abs}, nil
}

// Put streams r into the blob name, replacing any earlier one atomically. If
// r fails or ctx ends, the earlier blob (or its absence) is left as it was.
func (l *Local) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	path, err := l.path(name)
	if err != nil {
		return 0, err
	}
	n, err := l.put(ctx, path, r)
	if err != nil {
		return 0, fmt.Errorf("put blob %s: %w", name, err)
	}
	return n, nil
}

func (l *Local) put(ctx context.Context, path string, r io.Reader) (n int64, err error) {
	dir := filepath.Dir(path)
	f, err := l.createTemp(dir)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			l.removeEmptyFolders(dir)
		}
	}()

	// The wrapper hides os.File's ReadFrom so that the copy goes through the
	// one bounded buffer, and checks ctx between reads so that a cancelled
	// invocation stops a long stream.
	n, err = io.CopyBuffer(struct{ io.Writer }{f}, ctxReader{ctx, r}, make([]byte, copyBufferSize))
	if err != nil {
		return 0, err
	}
	// Sync before the rename: otherwise a crash could leave the new name
	// pointing at a file whose data never reached the disk.
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return 0, err
	}
	// Sync the folder too, so that the rename itself survives a crash.
	// Some systems cannot sync a folder; the blob is written all the same.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}

// createTemp creates the temporary file of a Put in dir. A Delete of the
// last blob of a folder removes the folder; if that happens while a Put
// creates the folder and its file, the Put creates them again.
func (l *Local) createTemp(dir string) (*os.File, error) {
	var err error
	for range mkdirAttempts {
		var f *os.File
		if err = os.MkdirAll(dir, 0o700); err == nil {
			// The leading dot keeps the file out of the blob namespace:
			// checkName refuses segments that start with one.
			f, err = os.CreateTemp(dir, ".put-*.partial")
		}
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	return nil, err
}

// Open returns a reader of the blob name and its size, or an error wrapping
// privacy.ErrNotFound if there is none. The reader keeps reading the blob it
// opened even if a Put replaces it meanwhile.
func (l *Local) Open(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	path, err := l.path(name)
	if err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("open blob %s: %w", name, err)
	}
	f, err := os.Open(path)
	if err != nil {
		if absent(err) {
			return nil, 0, fmt.Errorf("open blob %s: %w", name, privacy.ErrNotFound)
		}
		return nil, 0, fmt.Errorf("open blob %s: %w", name, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open blob %s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		// A folder ("acme/requests") is a prefix of blobs, not a blob.
		f.Close()
		return nil, 0, fmt.Errorf("open blob %s: %w", name, privacy.ErrNotFound)
	}
	return f, info.Size(), nil
}

// Delete removes the blob name; an absent blob is not an error. It then
// removes the folders the deletion left empty.
func (l *Local) Delete(ctx context.Context, name string) error {
	path, err := l.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete blob %s: %w", name, err)
	}
	info, err := os.Lstat(path)
	if err != nil {
		if absent(err) {
			return nil
		}
		return fmt.Errorf("delete blob %s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		return nil // a folder of blobs, not a blob: nothing of that name
	}
	if err := os.Remove(path); err != nil && !absent(err) {
		return fmt.Errorf("delete blob %s: %w", name, err)
	}
	l.removeEmptyFolders(filepath.Dir(path))
	return nil
}

// removeEmptyFolders removes dir and then its parents, below the root, while
// they are empty, so that nightly sweeps do not leave one empty folder per
// request behind. os.Remove refuses a folder that is not empty, which ends
// the walk; a folder that a concurrent Put needs again is re-created by it.
func (l *Local) removeEmptyFolders(dir string) {
	for ; strings.HasPrefix(dir, l.dir+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			return
		}
	}
}

// path checks name and returns its file path under the folder.
func (l *Local) path(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return filepath.Join(l.dir, filepath.FromSlash(name)), nil
}

// absent reports whether a file-system error means that there is no file
// of that name: it does not exist, or a part of its path is a file.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// checkName refuses a blob name that is not a relative slash-separated path
// of non-empty segments. Names come from code, not users, so a bad one is a
// bug: the error is plain, not a privacy.Error for a client. The rules hold
// for every adapter: backslashes and dot segments would be turned into other
// paths by a file system or by URL normalisation, and a leading dot is kept
// for Local's temporary files.
func checkName(name string) error {
	reason := ""
	switch {
	case name == "":
		reason = "is empty"
	case strings.HasPrefix(name, "/"):
		reason = "is absolute"
	case strings.Contains(name, ".."):
		reason = `contains ".."`
	case strings.ContainsRune(name, '\\'):
		reason = "contains a backslash"
	case strings.ContainsRune(name, 0):
		reason = "contains a NUL byte"
	case len(name) > 1024:
		reason = "is longer than 1024 bytes" // Blob storage's limit
	default:
		for seg := range strings.SplitSeq(name, "/") {
			if seg == "" {
				reason = "has an empty segment"
				break
			}
			if strings.HasPrefix(seg, ".") {
				reason = "has a segment that starts with a dot"
				break
			}
		}
		if reason == "" && !filepath.IsLocal(filepath.FromSlash(name)) {
			reason = "is not a local path on this system" // e.g. a Windows device name
		}
	}
	if reason != "" {
		return fmt.Errorf("%w: %q %s", errName, name, reason)
	}
	return nil
}

// errName is wrapped by every malformed-name error.
var errName = errors.New("invalid blob name")

// ctxReader stops a stream once its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
