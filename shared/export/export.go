// Package export writes the export package of a data subject request: a zip
// holding one JSON file per service, a CSV copy where a service's data is a
// flat table, a README.txt for the data subject and a manifest.json with every
// file's size and SHA-256.
//
// It has no trigger of its own: the delivery step of an access or export
// request calls Write with each service's stored export and pipes the zip into
// blob storage. Its only side effects are the bytes written to w, the calls
// to each Part's Open, and a temporary file in Options.SpoolDir while a large
// flat service's CSV file waits for its JSON file. The package is streamed,
// never built in memory: items are read and written one at a time, hashes are
// computed on the way through, and w never needs to Seek.
package export

import (
	"archive/zip"
	"bufio"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// outBuffer is the size of the writes to Write's io.Writer.
const outBuffer = 256 << 10

// Format names the package layout in manifest.json.
const Format = "privops-export/1"

// DefaultMaxItemBytes bounds one item's encoded size when Options leaves it 0.
const DefaultMaxItemBytes = 16 << 20

// Names of the files beside the services/ folder.
const (
	ManifestPath = "manifest.json"
	ReadmePath   = "README.txt"
)

// Errors about a service's stored export, wrapped with the service id and the
// byte offset; they never quote the data, which is personal.
var (
	// ErrMalformed: the stored export is not a JSON object with an "items" array.
	ErrMalformed = errors.New("stored export is not a JSON object with an items array")
	// ErrItemTooLarge: one item is larger than Options.MaxItemBytes.
	ErrItemTooLarge = errors.New("item too large")
	// ErrChanged: a second read of a stored export did not match the first.
	ErrChanged = errors.New("stored export changed between reads")
)

// Part is one service's contribution to a package.
type Part struct {
	// Service is the service id; it names the files, so it is 1 to 64 of
	// [a-z0-9-].
	Service string
	// Name is the service's human name, shown in the manifest and README.
	Name string
	// Note says why a service has no or partial data ("held: legal hold ...").
	// It is shown to the data subject, so it must not hold anyone's personal data.
	Note string
	// Open opens the service's stored export, the JSON document {"items":[...]}
	// the service returned. It is called once, or twice when the items form a
	// table whose columns grow after its first MiB of items (a second pass
	// writes the CSV file; see csvPass), and must return the same bytes each
	// time. Nil means the service has no export (held or failed): it is
	// listed in the manifest with its Note and no files.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Options tune Write. The zero value is ready to use.
type Options struct {
	// MaxItemBytes bounds one item's encoded size (default DefaultMaxItemBytes);
	// a larger item fails the package with ErrItemTooLarge. It also bounds
	// memory: the reader holds the largest item once in its buffer (twice
	// more when it must be repaired or put on one line), the CSV pass one
	// cell of it, plus the garbage collector's headroom; a flat service's
	// CSV goroutine holds up to three batches of items (256 KiB, or one
	// larger item, each). Besides that, a package holds at most 4 blocks of
	// 1 MiB more than there are CPUs (12 in all at most) and their
	// compressed forms, up to a MiB of a flat service's first items, and
	// 8 MiB of its compressed CSV file (the rest goes to SpoolDir). The
	// 1 GiB benchmark of items of a few hundred bytes peaks near 50 MB of RSS.
	MaxItemBytes int
	// SpoolDir is where the compressed CSV file of a flat service waits,
	// beyond its first 8 MiB, while the service's JSON file is written
	// (default os.TempDir()). The file is removed as soon as it is opened
	// where the system allows, and when the service is done in any case.
	SpoolDir string
}

// FileEntry describes one file of the package.
type FileEntry struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // lower-case hex of the uncompressed bytes
}

// ServiceEntry describes one service of the package.
type ServiceEntry struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Items int      `json:"items"`
	Files []string `json:"files"`
	Note  string   `json:"note,omitempty"`
}

// Manifest is the content of manifest.json.
type Manifest struct {
	Format    string         `json:"format"`
	TenantID  string         `json:"tenantId"`
	RequestID string         `json:"requestId"`
	CreatedAt time.Time      `json:"createdAt"`
	Services  []ServiceEntry `json:"services"`
	// Files lists every file of the package but manifest.json itself, which
	// cannot hold its own hash.
	Files []FileEntry `json:"files"`
}

// Write streams the package of parts to w as a zip and returns its manifest.
// The caller fills m's TenantID, RequestID and CreatedAt; Write fills the rest.
// CreatedAt is also every file's modification time, so the same input always
// gives byte-identical output. Services are written in order of their id,
// whatever the order of parts.
//
// Layout: services/<id>.json for every part with an Open, services/<id>.csv
// when every item of that service is a flat object, README.txt, manifest.json.
//
// Errors name the service at fault and wrap ErrMalformed, ErrItemTooLarge,
// ErrChanged, an error of Open or of reading, or ctx.Err() (checked between
// items). On error the bytes already written to w are not a valid zip and must
// be discarded: close the pipe into blob storage with the error.
func Write(ctx context.Context, w io.Writer, m Manifest, parts []Part, opts Options) (Manifest, error) {
	return write(ctx, w, m, parts, opts, tuning{pending: pendingBytes, spoolMemory: spoolMemory})
}

// tuning holds the bounds tests change to reach every path with small
// inputs.
type tuning struct {
	// pending bounds the items a flat service's CSV holds back (csvPass);
	// below 0, every CSV file is written from a second read.
	pending int
	// spoolMemory bounds the memory of a spooled CSV file (spool).
	spoolMemory int
}

func write(ctx context.Context, w io.Writer, m Manifest, parts []Part, opts Options, tune tuning) (Manifest, error) {
	if err := checkHeader(m); err != nil {
		return Manifest{}, err
	}
	parts, err := sortedParts(parts)
	if err != nil {
		return Manifest{}, err
	}
	maxItem := opts.MaxItemBytes
	if maxItem <= 0 {
		maxItem = DefaultMaxItemBytes
	}
	m.Format = Format
	m.CreatedAt = m.CreatedAt.UTC()
	m.Services = make([]ServiceEntry, 0, len(parts))

	p := &packer{
		// zip.Writer adopts a *bufio.Writer this large instead of its own
		// 4 KiB one: fewer, larger writes to w (a file, a pipe into blob
		// storage). Close flushes it.
		zw:       zip.NewWriter(bufio.NewWriterSize(w, outBuffer)),
		modified: m.CreatedAt,
		headers:  zip.NewWriter(io.Discard),
		maxItem:  maxItem,
		spoolDir: opts.SpoolDir,
		tune:     tune,
		blocks:   newBlockPool(),
	}
	defer p.abort()

	for _, part := range parts {
		if err := ctx.Err(); err != nil {
			return Manifest{}, err
		}
		se, err := p.writePart(ctx, part)
		if err != nil {
			return Manifest{}, fmt.Errorf("export service %s: %w", part.Service, err)
		}
		m.Services = append(m.Services, se)
	}
	if err := p.writeFile(ReadmePath, readme(m)); err != nil {
		return Manifest{}, err
	}
	m.Files = p.files
	doc, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("encode manifest: %w", err)
	}
	if err := p.writeFile(ManifestPath, append(doc, '\n')); err != nil {
		return Manifest{}, err
	}
	if err := p.zw.Close(); err != nil {
		return Manifest{}, fmt.Errorf("finish zip: %w", err)
	}
	return m, nil
}

func checkHeader(m Manifest) error {
	switch {
	case m.TenantID == "":
		return errors.New("export: manifest has no tenant id")
	case m.RequestID == "":
		return errors.New("export: manifest has no request id")
	case m.CreatedAt.IsZero():
		// A zero time would hide the missing clock and still be reproducible;
		// the package date is shown to the data subject, so insist on it.
		return errors.New("export: manifest has no creation time")
	}
	return nil
}

// sortedParts checks parts and returns a copy sorted by service id.
func sortedParts(parts []Part) ([]Part, error) {
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b Part) int { return cmp.Compare(a.Service, b.Service) })
	for i, part := range sorted {
		if !validID(part.Service) {
			return nil, fmt.Errorf("export: service id %q is not 1 to 64 of [a-z0-9-]", part.Service)
		}
		if i > 0 && sorted[i-1].Service == part.Service {
			return nil, fmt.Errorf("export: service %s appears twice", part.Service)
		}
	}
	return sorted, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// packer writes the files of one package, recording each file's size and hash.
type packer struct {
	zw       *zip.Writer
	headers  *zip.Writer // on io.Discard: fills file headers (fileHeader)
	modified time.Time
	maxItem  int
	spoolDir string
	tune     tuning
	blocks   *blockPool
	streams  []*stream // every stream started, so abort can stop their sinks
	files    []FileEntry
}

// entry is a file being written straight into the zip.
type entry struct {
	path string
	fh   *zip.FileHeader
	s    *stream
}

// newStream starts a stream into w and remembers it for abort.
func (p *packer) newStream(w io.Writer) *stream {
	s := newStream(p.blocks, w)
	p.streams = append(p.streams, s)
	return s
}

// create starts the file path in the zip; write it through e.s, then call
// finish.
func (p *packer) create(path string) (*entry, error) {
	fh, err := fileHeader(p.headers, path, p.modified)
	if err != nil {
		return nil, err
	}
	w, err := p.zw.CreateRaw(fh)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &entry{path: path, fh: fh, s: p.newStream(w)}, nil
}

// finish ends the file started by create and records it.
func (p *packer) finish(e *entry) error {
	d, err := e.s.close()
	if err != nil {
		return fmt.Errorf("write %s: %w", e.path, err)
	}
	setSizes(e.fh, d)
	p.record(e.path, d)
	return nil
}

func (p *packer) record(path string, d digest) {
	p.files = append(p.files, FileEntry{Path: path, Bytes: d.n, SHA256: hex.EncodeToString(d.sha)})
}

// addSpooled adds the file path, compressed into sp while another file was
// being written, with its digest d.
func (p *packer) addSpooled(path string, sp *spool, d digest) error {
	fh, err := fileHeader(p.headers, path, p.modified)
	if err != nil {
		return err
	}
	w, err := p.zw.CreateRaw(fh)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := sp.copyTo(w); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	setSizes(fh, d)
	p.record(path, d)
	return nil
}

// abort stops the goroutines of files left unfinished by an error, without
// writing what they still hold: the package is lost anyway.
func (p *packer) abort() {
	for _, s := range p.streams {
		s.abort()
	}
	p.streams = nil
}

// writeFile writes a small file held in memory.
func (p *packer) writeFile(path string, content []byte) error {
	e, err := p.create(path)
	if err != nil {
		return err
	}
	if _, err := e.s.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return p.finish(e)
}

// writePart writes the files of one service.
func (p *packer) writePart(ctx context.Context, part Part) (ServiceEntry, error) {
	se := ServiceEntry{ID: part.Service, Name: part.Name, Note: part.Note, Files: []string{}}
	if part.Open == nil {
		return se, nil
	}
	jsonPath := "services/" + part.Service + ".json"
	csv := newCSVPass(p, p.tune.pending)
	defer csv.drop()
	items, err := p.writeJSON(ctx, part, jsonPath, csv)
	if err != nil {
		return se, err
	}
	se.Items = items
	se.Files = append(se.Files, jsonPath)
	csvPath := "services/" + part.Service + ".csv"
	ok, err := csv.finish(ctx, part, items, csvPath)
	if err != nil {
		return se, err
	}
	if ok {
		se.Files = append(se.Files, csvPath)
	}
	return se, nil
}
