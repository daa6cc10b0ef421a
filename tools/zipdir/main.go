// Command zipdir writes a directory tree as a zip archive: the deployment
// package of the Functions app (`go tool -modfile=tools/task/go.mod task stage`). Entries carry paths
// relative to the directory with forward slashes, in lexical order, and their
// Unix modes, so the custom handler stays executable when the Linux host
// unpacks or mounts the package; every entry gets the same fixed time, so the
// same tree always gives the same bytes. Symbolic links and special files are
// refused: a deployment package holds plain files only.
//
//	go run ./tools/zipdir -o build/functionapp.zip build/functionapp
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// entryTime is the modification time of every entry (the zip format's epoch
// is 1980; any fixed time keeps the archive reproducible).
var entryTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	out := flag.String("o", "", "the zip file to write (replaced if it exists)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: zipdir -o OUT.zip DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "zipdir:", err)
		os.Exit(1)
	}
}

// run writes dir to out through a temporary file in out's folder, renamed
// into place once complete, so a failed run never leaves a partial archive.
func run(out, dir string) error {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(absDir, absOut); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("the archive %s must not be inside %s", out, dir)
	}
	tmp, err := os.CreateTemp(filepath.Dir(absOut), ".zipdir-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := write(tmp, absDir); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), absOut)
}

// write adds every directory and regular file under dir to a zip on w.
func write(w io.Writer, dir string) error {
	zw := zip.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return add(zw, filepath.ToSlash(rel), path, info)
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

// add writes one entry: a folder ("name/", stored) or a file (deflated), each
// with its permission bits and a Unix creator, which is what makes unzip and
// the Functions host restore the mode.
func add(zw *zip.Writer, name, path string, info fs.FileInfo) error {
	mode := info.Mode()
	switch {
	case mode.IsDir():
		h := &zip.FileHeader{Name: name + "/", Method: zip.Store, Modified: entryTime}
		h.SetMode(fs.ModeDir | mode.Perm())
		_, err := zw.CreateHeader(h)
		return err
	case mode.IsRegular():
	default:
		return fmt.Errorf("%s: only folders and regular files belong in a deployment package (mode %s)", name, mode)
	}
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: entryTime}
	h.SetMode(mode.Perm())
	dst, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, f)
	return errors.Join(err, f.Close())
}
