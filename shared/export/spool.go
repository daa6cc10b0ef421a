package export

import (
	"archive/zip"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"
)

// spoolMemory is how much of a spooled file's compressed form stays in
// memory; the rest goes to a temporary file.
const spoolMemory = 8 << 20

// spoolChunk is the unit of a spool's memory: chunks are filled one after
// the other, never copied to grow.
const spoolChunk = 1 << 20

// spool holds the compressed form of a file that is produced while another
// file is being written to the zip (a service's CSV beside its JSON), until
// it can be added: in memory up to a cap, then in a temporary file that is
// removed as soon as it is created where the system allows (Linux, macOS),
// and at the latest by close.
type spool struct {
	dir    string
	cap    int
	chunks [][]byte
	size   int // bytes in chunks
	f      *os.File
	n      int64
}

func newSpool(dir string, capacity int) *spool { return &spool{dir: dir, cap: capacity} }

func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && s.size+len(p) <= s.cap {
		n := len(p)
		s.n += int64(n)
		s.size += n
		for len(p) > 0 {
			if len(s.chunks) == 0 || len(s.chunks[len(s.chunks)-1]) == spoolChunk {
				s.chunks = append(s.chunks, make([]byte, 0, spoolChunk))
			}
			last := &s.chunks[len(s.chunks)-1]
			k := min(len(p), spoolChunk-len(*last))
			*last = append(*last, p[:k]...)
			p = p[k:]
		}
		return n, nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "privops-export-*.spool")
		if err != nil {
			return 0, fmt.Errorf("spool: %w", err)
		}
		s.f = f
		os.Remove(f.Name()) // open files outlive their name where the system allows; close retries
		for _, c := range s.chunks {
			if _, err := f.Write(c); err != nil {
				return 0, fmt.Errorf("spool: %w", err)
			}
		}
		s.chunks, s.size = nil, 0
	}
	n, err := s.f.Write(p)
	s.n += int64(n)
	if err != nil {
		err = fmt.Errorf("spool: %w", err)
	}
	return n, err
}

// copyTo writes everything spooled to w.
func (s *spool) copyTo(w io.Writer) error {
	if s.f == nil {
		for _, c := range s.chunks {
			if _, err := w.Write(c); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	buf := make([]byte, outBuffer)
	n, err := io.CopyBuffer(w, struct{ io.Reader }{s.f}, buf)
	if err == nil && n != s.n {
		err = fmt.Errorf("spool: read back %d bytes of %d", n, s.n)
	}
	return err
}

// onDisk reports whether the spool went to a temporary file.
func (s *spool) onDisk() bool { return s.f != nil }

// close frees the memory and removes the temporary file.
func (s *spool) close() {
	s.chunks = nil
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f = nil
	}
}

// fileHeader returns the zip header of a file of the package, filled as
// zip.Writer.CreateHeader fills it (version, flags with a data descriptor,
// MS-DOS time, extended timestamp): the package adds its files with
// CreateRaw, having compressed them itself, and they look exactly as if
// CreateHeader had compressed them. headers is a zip.Writer on io.Discard
// used only for this; Store there spares it a compressor.
func fileHeader(headers *zip.Writer, path string, modified time.Time) (*zip.FileHeader, error) {
	fh := &zip.FileHeader{Name: path, Method: zip.Store, Modified: modified}
	fh.SetMode(0o644)
	if _, err := headers.CreateHeader(fh); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	// A copy: headers rewrites the sizes of fh when the next file starts.
	own := *fh
	own.Extra = slices.Clone(fh.Extra)
	own.Method = zip.Deflate
	return &own, nil
}

// setSizes records a file's digest in its header before the zip.Writer
// writes its data descriptor (at the next file, or Close), as the zip
// package's own writer does when it closes a file.
func setSizes(fh *zip.FileHeader, d digest) {
	fh.CRC32 = d.crc
	fh.CompressedSize64 = uint64(d.out)
	fh.UncompressedSize64 = uint64(d.n)
	if fh.CompressedSize64 >= math.MaxUint32 || fh.UncompressedSize64 >= math.MaxUint32 {
		fh.CompressedSize = math.MaxUint32
		fh.UncompressedSize = math.MaxUint32
		fh.ReaderVersion = 45 // ZIP64
	} else {
		fh.CompressedSize = uint32(fh.CompressedSize64)
		fh.UncompressedSize = uint32(fh.UncompressedSize64)
	}
}
