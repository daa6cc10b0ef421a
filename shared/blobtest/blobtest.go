// Package blobtest is the conformance suite of the blob port
// (privacy.Blobs). Each adapter's tests call Run with a constructor; the
// local-folder adapter runs it always, the Azure adapter when a Blob
// endpoint (Azurite or an account) is configured.
//
// Every subtest works under a tenant id of its own, so newBlobs may return
// adapters that share one backend (one container for a whole run).
package blobtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// Sizes the suite streams. failLate is past two blocks of the Azure
// adapter's 4 MiB, so blocks are staged when the stream fails.
const (
	largeSize = 20 << 20
	failLate  = 9 << 20
)

// Run runs the suite against the adapters newBlobs returns. newBlobs is
// called once per subtest, from that subtest; it registers any cleanup with
// t.Cleanup.
func Run(t *testing.T, newBlobs func(t *testing.T) privacy.Blobs) {
	tests := []struct {
		name string
		test func(t *testing.T, b privacy.Blobs, tenant string)
	}{
		{"RoundTrip", testRoundTrip},
		{"ReplaceKeepsNewest", testReplaceKeepsNewest},
		{"OpenMissing", testOpenMissing},
		{"Delete", testDelete},
		{"DeleteAbsent", testDeleteAbsent},
		{"DeleteLeavesNeighbours", testDeleteLeavesNeighbours},
		{"LargeStream", testLargeStream},
		{"FailedPutKeepsPrevious", testFailedPutKeepsPrevious},
		{"FailedPutLeavesNoBlob", testFailedPutLeavesNoBlob},
		{"ReadersDuringPutSeeOldBlob", testReadersDuringPut},
		{"OpenReaderOutlivesReplace", testOpenReaderOutlivesReplace},
		{"ConcurrentPutsOneWins", testConcurrentPuts},
		{"TenantsNeverCollide", testTenantsNeverCollide},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, newBlobs(t), newTenant(t))
		})
	}
}

// blobState is what a reader of a blob sees.
type blobState struct {
	Size    int64
	Content string
}

func testRoundTrip(t *testing.T, b privacy.Blobs, tenant string) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		name    string
		blob    string
		content string
	}{
		{"empty", "/requests/r1/empty.json", ""},
		{"one byte", "/requests/r1/one", "x"},
		{"json", "/requests/r1/services/crm.json", `{"items":[{"id":1}]}`},
		{"every byte value", "/evidence/bytes.bin", string(all)},
		{"spaces and unicode", "/requests/r 2/résumé export.csv", "a,b\n1,2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := tenant + tt.blob
			n := put(t, b, name, tt.content)
			if n != int64(len(tt.content)) {
				t.Errorf("Put wrote %d bytes, want %d", n, len(tt.content))
			}
			if diff := cmp.Diff(blobState{int64(len(tt.content)), tt.content}, read(t, b, name)); diff != "" {
				t.Errorf("Open after Put (-want +got):\n%s", diff)
			}
		})
	}
}

func testReplaceKeepsNewest(t *testing.T, b privacy.Blobs, tenant string) {
	name := tenant + "/requests/r1/export.zip"
	put(t, b, name, "the first, longer version")
	put(t, b, name, "second")
	put(t, b, name, "third")
	if diff := cmp.Diff(blobState{5, "third"}, read(t, b, name)); diff != "" {
		t.Errorf("Open after three Puts (-want +got):\n%s", diff)
	}
}

func testOpenMissing(t *testing.T, b privacy.Blobs, tenant string) {
	put(t, b, tenant+"/requests/r1/export.zip", "x")
	for _, name := range []string{
		tenant + "/requests/r2/export.zip", // nothing there
		tenant + "/requests/r1",            // a prefix of a blob is no blob
		tenant + "/requests/r1/export.zip/inner",
	} {
		requireNotFound(t, b, name)
	}
}

func testDelete(t *testing.T, b privacy.Blobs, tenant string) {
	name := tenant + "/requests/r1/export.zip"
	put(t, b, name, "x")
	if err := b.Delete(t.Context(), name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	requireNotFound(t, b, name)
	if err := b.Delete(t.Context(), name); err != nil {
		t.Fatalf("Delete of a deleted blob: %v", err)
	}
	put(t, b, name, "again")
	if diff := cmp.Diff(blobState{5, "again"}, read(t, b, name)); diff != "" {
		t.Errorf("Open after Put, Delete, Put (-want +got):\n%s", diff)
	}
}

func testDeleteAbsent(t *testing.T, b privacy.Blobs, tenant string) {
	if err := b.Delete(t.Context(), tenant+"/requests/never/export.zip"); err != nil {
		t.Fatalf("Delete of a blob that never was: %v", err)
	}
	put(t, b, tenant+"/requests/r1/export.zip", "x")
	if err := b.Delete(t.Context(), tenant+"/requests/r1"); err != nil {
		t.Fatalf("Delete of a prefix of a blob: %v", err)
	}
	if diff := cmp.Diff(blobState{1, "x"}, read(t, b, tenant+"/requests/r1/export.zip")); diff != "" {
		t.Errorf("the blob under a deleted prefix (-want +got):\n%s", diff)
	}
}

func testDeleteLeavesNeighbours(t *testing.T, b privacy.Blobs, tenant string) {
	names := []string{
		tenant + "/requests/r1/a",
		tenant + "/requests/r1/ab",
		tenant + "/requests/r10/a",
		tenant + "/requests/r1/a.bak",
	}
	for _, name := range names {
		put(t, b, name, name)
	}
	if err := b.Delete(t.Context(), names[0]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	requireNotFound(t, b, names[0])
	for _, name := range names[1:] {
		if diff := cmp.Diff(blobState{int64(len(name)), name}, read(t, b, name)); diff != "" {
			t.Errorf("a neighbour of the deleted blob (-want +got):\n%s", diff)
		}
	}
}

func testLargeStream(t *testing.T, b privacy.Blobs, tenant string) {
	name := tenant + "/requests/r1/export.zip"
	want := digest(t, stream(1, largeSize))
	n, err := b.Put(t.Context(), name, stream(1, largeSize))
	if err != nil {
		t.Fatalf("Put of %d bytes: %v", largeSize, err)
	}
	if n != largeSize {
		t.Errorf("Put wrote %d bytes, want %d", n, largeSize)
	}
	if diff := cmp.Diff(want, readDigest(t, b, name)); diff != "" {
		t.Errorf("Open after a large Put (-want +got):\n%s", diff)
	}
}

// failPoints are where a failing source stops: before any byte, inside the
// first block, and after blocks were staged.
var failPoints = []struct {
	name string
	at   int64
}{
	{"at once", 0},
	{"early", 1000},
	{"late", failLate},
}

func testFailedPutKeepsPrevious(t *testing.T, b privacy.Blobs, tenant string) {
	for _, fp := range failPoints {
		t.Run(fp.name, func(t *testing.T) {
			t.Parallel()
			name := tenant + "/requests/" + fp.name + "/export.zip"
			put(t, b, name, "the previous blob")
			n, err := b.Put(t.Context(), name, &failingReader{r: stream(2, fp.at)})
			if !errors.Is(err, errSource) {
				t.Fatalf("Put from a source failing after %d bytes = %d, %v; want an error wrapping %v", fp.at, n, err, errSource)
			}
			if diff := cmp.Diff(blobState{17, "the previous blob"}, read(t, b, name)); diff != "" {
				t.Errorf("Open after a failed Put (-want +got):\n%s", diff)
			}
		})
	}
}

func testFailedPutLeavesNoBlob(t *testing.T, b privacy.Blobs, tenant string) {
	for _, fp := range failPoints {
		t.Run(fp.name, func(t *testing.T) {
			t.Parallel()
			name := tenant + "/requests/" + fp.name + "/export.zip"
			n, err := b.Put(t.Context(), name, &failingReader{r: stream(3, fp.at)})
			if !errors.Is(err, errSource) {
				t.Fatalf("Put from a source failing after %d bytes = %d, %v; want an error wrapping %v", fp.at, n, err, errSource)
			}
			requireNotFound(t, b, name)
		})
	}
}

// testReadersDuringPut holds a Put in the middle of its stream, past the
// first block, and reads the blob meanwhile.
func testReadersDuringPut(t *testing.T, b privacy.Blobs, tenant string) {
	const size, pause = 6 << 20, 5 << 20
	name := tenant + "/requests/r1/export.zip"
	put(t, b, name, "old")

	src := &gatedReader{r: stream(4, size), pauseAt: pause, paused: make(chan struct{}), resume: make(chan struct{})}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := b.Put(t.Context(), name, src)
		done <- result{n, err}
	}()
	select {
	case <-src.paused:
	case r := <-done:
		t.Fatalf("Put ended before its source paused: %d, %v", r.n, r.err)
	}
	if diff := cmp.Diff(blobState{3, "old"}, read(t, b, name)); diff != "" {
		close(src.resume)
		<-done
		t.Fatalf("Open while a Put is under way (-want +got):\n%s", diff)
	}
	close(src.resume)
	if r := <-done; r.err != nil || r.n != size {
		t.Fatalf("Put = %d, %v; want %d bytes", r.n, r.err, size)
	}
	if diff := cmp.Diff(digest(t, stream(4, size)), readDigest(t, b, name)); diff != "" {
		t.Errorf("Open after the Put (-want +got):\n%s", diff)
	}
}

// testOpenReaderOutlivesReplace: a reader opened before a Put reads the old
// blob whole or fails; it never returns a mix of the two.
func testOpenReaderOutlivesReplace(t *testing.T, b privacy.Blobs, tenant string) {
	name := tenant + "/requests/r1/export.zip"
	old := stream(5, 1<<20)
	wantOld := digest(t, stream(5, 1<<20))
	put(t, b, name, readString(t, old))

	rc, size, err := b.Open(t.Context(), name)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	put(t, b, name, "new")
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return // failing is allowed; splicing is not
	}
	if diff := cmp.Diff(wantOld, digestOf{size, hex.EncodeToString(h.Sum(nil))}); diff != "" || n != size {
		t.Errorf("a reader opened before a replace read %d bytes (-old +got):\n%s", n, diff)
	}
}

func testConcurrentPuts(t *testing.T, b privacy.Blobs, tenant string) {
	const writers, size = 4, 256 << 10
	name := tenant + "/requests/r1/export.zip"
	want := make(map[digestOf]bool)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		want[digest(t, stream(uint64(10+i), size))] = true
		wg.Go(func() {
			if _, err := b.Put(t.Context(), name, stream(uint64(10+i), size)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	if got := readDigest(t, b, name); !want[got] {
		t.Errorf("after %d concurrent Puts the blob is %+v, none of the versions written", writers, got)
	}
}

func testTenantsNeverCollide(t *testing.T, b privacy.Blobs, tenant string) {
	other := newTenant(t)
	rest := "/requests/r1/export.zip"
	put(t, b, tenant+rest, "first tenant's")
	put(t, b, other+rest, "second tenant's")
	got := map[string]blobState{
		tenant: read(t, b, tenant+rest),
		other:  read(t, b, other+rest),
	}
	want := map[string]blobState{
		tenant: {14, "first tenant's"},
		other:  {15, "second tenant's"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the same path under two tenants (-want +got):\n%s", diff)
	}
	if err := b.Delete(t.Context(), tenant+rest); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	requireNotFound(t, b, tenant+rest)
	if diff := cmp.Diff(want[other], read(t, b, other+rest)); diff != "" {
		t.Errorf("the other tenant's blob after a Delete (-want +got):\n%s", diff)
	}
}

// newTenant returns a tenant id unique to this run.
func newTenant(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "tenant-" + hex.EncodeToString(b[:])
}

func put(tb testing.TB, b privacy.Blobs, name, content string) int64 {
	tb.Helper()
	n, err := b.Put(tb.Context(), name, &pieceReader{s: content})
	if err != nil {
		tb.Fatalf("Put %s: %v", name, err)
	}
	return n
}

// read returns the blob's size and content, failing tb if it cannot.
func read(tb testing.TB, b privacy.Blobs, name string) blobState {
	tb.Helper()
	rc, size, err := b.Open(tb.Context(), name)
	if err != nil {
		tb.Fatalf("Open %s: %v", name, err)
	}
	defer rc.Close()
	return blobState{size, readString(tb, rc)}
}

func requireNotFound(tb testing.TB, b privacy.Blobs, name string) {
	tb.Helper()
	rc, _, err := b.Open(tb.Context(), name)
	if err == nil {
		rc.Close()
		tb.Fatalf("Open %s succeeded, want an error wrapping privacy.ErrNotFound", name)
	}
	if !errors.Is(err, privacy.ErrNotFound) {
		tb.Fatalf("Open %s: %v, want an error wrapping privacy.ErrNotFound", name, err)
	}
}

func readString(tb testing.TB, r io.Reader) string {
	tb.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	return string(data)
}

// digestOf sums up a large blob for comparison.
type digestOf struct {
	Size   int64
	SHA256 string
}

func digest(tb testing.TB, r io.Reader) digestOf {
	tb.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	return digestOf{n, hex.EncodeToString(h.Sum(nil))}
}

// readDigest opens a blob and sums it up; Size is the size Open reported,
// checked against the bytes read.
func readDigest(tb testing.TB, b privacy.Blobs, name string) digestOf {
	tb.Helper()
	rc, size, err := b.Open(tb.Context(), name)
	if err != nil {
		tb.Fatalf("Open %s: %v", name, err)
	}
	defer rc.Close()
	d := digest(tb, rc)
	if d.Size != size {
		tb.Errorf("Open %s reported %d bytes and read %d", name, size, d.Size)
	}
	return d
}

// stream returns n deterministic pseudo-random bytes of seed, generated as
// they are read: the suite never holds a large blob in memory either.
func stream(seed uint64, n int64) io.Reader {
	var key [32]byte
	copy(key[:], fmt.Sprint(seed))
	return io.LimitReader(mrand.NewChaCha8(key), n)
}

// errSource is the failure of a Put's source.
var errSource = errors.New("blobtest: the source failed")

// failingReader fails with errSource where its reader would end.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = errSource
	}
	return n, err
}

// gatedReader pauses after pauseAt bytes: it closes paused, then waits for
// resume to be closed.
type gatedReader struct {
	r       io.Reader
	pauseAt int64
	read    int64
	paused  chan struct{}
	resume  chan struct{}
	once    sync.Once
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.read >= g.pauseAt {
		g.once.Do(func() { close(g.paused) })
		<-g.resume
	} else if left := g.pauseAt - g.read; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// pieceReader reads a string a few bytes at a time, like a slow network
// source, and hides every method but Read, so that adapters see a plain
// stream.
type pieceReader struct {
	s string
	i int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if r.i >= len(r.s) {
		return 0, io.EOF
	}
	if len(p) > 7 {
		p = p[:7]
	}
	n := copy(p, r.s[r.i:])
	r.i += n
	return n, nil
}
