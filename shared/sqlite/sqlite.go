// Package sqlite is the embedded default adapter of the store and queue ports,
// used by the standalone host: one SQLite file (WAL) under the data directory
// holds tenants, requests, the audit chain and a durable queue. Writes go
// through one connection, since SQLite has one writer; reads use a pool. Open
// applies the embedded migrations; nothing else runs in the background.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options configures Open. Zero fields take their defaults.
type Options struct {
	// Synchronous is "full" (default: a commit survives power loss) or "normal"
	// (a commit survives a process crash; the last ones may be lost on power loss).
	Synchronous string
	// QueueMaxDeliveries is how many times a message is delivered before it is
	// dead-lettered instead (default 10).
	QueueMaxDeliveries int
	// DedupeWindow is how long a published message id suppresses republishing
	// the same id to the same queue (default 10m).
	DedupeWindow time.Duration
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing with privacy.ErrUnavailable (default 5s).
	BusyTimeout time.Duration
	// Now is the clock of queue visibility, leases and dedupe, and of inbound
	// record expiry (default time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	switch strings.ToLower(o.Synchronous) {
	case "", "full":
		o.Synchronous = "FULL"
	case "normal":
		o.Synchronous = "NORMAL"
	default:
		return o, fmt.Errorf("synchronous %q is neither full nor normal", o.Synchronous)
	}
	if o.QueueMaxDeliveries <= 0 {
		o.QueueMaxDeliveries = 10
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = 10 * time.Minute
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// DB is an open database file. It is safe for concurrent use.
type DB struct {
	w  *sql.DB // exactly one connection: every write, serialized
	r  *sql.DB // read-only pool
	wr *writer // the group-commit writer that owns w after Open
	// st holds the writer's hot statements, prepared on w (stmts.go).
	st *writerStmts
	// heads caches the audit chain heads; only the writer goroutine uses it.
	heads *headCache
	opts  Options
	// arrivals wakes this process's queue pollers after a publish (arrivals.go).
	arrivals arrivals
	// warm is closed once the first read connection is open (warmReader).
	warm chan struct{}
	// ready is closed when open has returned, err what it returned (Start).
	ready chan struct{}
	err   error
}

// Open opens (creating if needed) the database file at path, creating its
// directory, and migrates it to the current schema. The file is created
// readable by its owner only, since it holds personal data. Close the DB when
// done. Opening the same file twice in one process works but serializes the
// writers on SQLite's lock instead of in-process.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	db := newDB()
	db.err = db.open(ctx, path, opts)
	close(db.ready)
	if db.err != nil {
		return nil, db.err
	}
	return db, nil
}

// Start is Open in the background: it returns at once, and the connection,
// the migrations and the prepared statements are made while the caller goes
// on (the composition root wires the functions meanwhile: issue 16, cold
// start). Ready waits for them and returns Open's error. Until Ready has
// returned nil, only Store, Queue and BreachSend (which only wrap the DB),
// Ready and Close may be called.
func Start(ctx context.Context, path string, opts Options) *DB {
	db := newDB()
	go func() {
		defer close(db.ready)
		db.err = db.open(ctx, path, opts)
	}()
	return db
}

// Ready waits until the DB is open and returns the error that stopped it.
func (db *DB) Ready() error {
	<-db.ready
	return db.err
}

func newDB() *DB {
	return &DB{heads: newHeadCache(), warm: make(chan struct{}), ready: make(chan struct{})}
}

// open opens the file for Open and Start; on error it leaves nothing open.
func (db *DB) open(ctx context.Context, path string, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("open database: path %q must be a plain file path", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // SQLite gives -wal and -shm the same mode
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	db.opts = opts

	// temp_store(2) keeps temporary files in memory, the statement journal
	// above all: the writer runs each job of a batch under a SAVEPOINT, and
	// SQLite copies every page a job touches into that journal, which spills
	// to a temporary file past 64 KiB (eight 8 KiB pages): a write system
	// call per page, 8 % of the server's CPU under intake load (pprof).
	busy := "busy_timeout(" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) + ")"
	db.r, err = sql.Open("sqlite", dsn(path, url.Values{"_pragma": {busy, "query_only(1)"}}))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(readers)
	db.r.SetMaxIdleConns(readers)
	// An existing file's schema is parsed by the first read connection beside
	// the writer's start; a new file's once the migrations have made it.
	warming := st.Size() > 0
	if warming {
		go db.warmReader()
	}
	fail := func(err error) error {
		if db.wr != nil {
			db.stopWriter()
		}
		if !warming {
			close(db.warm)
		}
		<-db.warm
		db.r.Close()
		if db.w != nil {
			db.w.Close()
		}
		return fmt.Errorf("open database: %w", err)
	}
	db.w, err = sql.Open("sqlite", dsn(path, url.Values{"_txlock": {"immediate"},
		"_pragma": {busy, "synchronous(" + opts.Synchronous + ")", "foreign_keys(1)", "temp_store(2)"}}))
	if err != nil {
		return fail(err) // db.w is nil
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	db.startWriter()
	if err := db.init(ctx); err != nil {
		return fail(err)
	}
	if db.st, err = prepareWriterStmts(ctx, db.w); err != nil {
		return fail(err)
	}
	if !warming {
		go db.warmReader()
	}
	return nil
}

// warmReader opens the first read connection in the background. SQLite
// parses the whole schema on a connection's first statement (about a
// millisecond here), so the first read does not pay it: at start, the demo
// tenant's check (issue 16, cold start). A migration applied meanwhile
// changes the schema cookie, and SQLite parses again on the next read.
func (db *DB) warmReader() {
	defer close(db.warm)
	var v int
	_ = db.r.QueryRow("SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&v) // a failure shows on the first real read
}

func dsn(path string, q url.Values) string { return path + "?" + q.Encode() }

// pageSize is the page size of a new database file. SQLite's default, 4 KiB,
// stores at most about 1,000 bytes of a WITHOUT ROWID row (requests, with their
// JSON document) in its b-tree page; a longer row spills to overflow pages, and
// every key comparison against it during a seek then allocates and reads the
// whole row (sqlite3BtreeIndexMoveto): a fifth of the writer's CPU under
// intake load. 8 KiB pages keep rows of up to about 2,000 bytes (a submitted
// request with its outbox) in the page; larger pages would cost every commit
// more WAL bytes. It applies only to a file without tables (SQLite keeps the
// size a file was created with), so it is set before WAL, which fixes it.
const dbPageSize = 8192

// init sets the page size of a new file and WAL mode, checks the journal
// mode and applies the migrations.
func (db *DB) init(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, "PRAGMA page_size = "+strconv.Itoa(dbPageSize)); err != nil {
		return translate(err)
	}
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return translate(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %s, want wal (is the file system local?)", mode)
	}
	return db.migrate(ctx)
}

// Close closes the database. Pending reads and writes fail afterwards.
func (db *DB) Close() error {
	if db.Ready() != nil {
		return nil // open left nothing open
	}
	<-db.warm
	db.stopWriter()
	return errors.Join(db.st.close(), db.r.Close(), db.w.Close())
}

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies, in order and each in its own transaction, the embedded
// migrations not yet recorded in schema_version. Migration files are named
// NNNN_what.sql; NNNN is the version.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("create schema_version: %w", translate(err))
	}
	var current int
	if err := db.w.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", translate(err))
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	latest := 0
	for _, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil || v != latest+1 {
			return fmt.Errorf("migration %s: versions must count 1, 2, 3, ...", base)
		}
		latest = v
		if v <= current {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = db.write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
				v, base, db.opts.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", base, err)
		}
	}
	if current > latest {
		return fmt.Errorf("database schema version %d is newer than this binary's %d", current, latest)
	}
	return nil
}

// newToken returns a random hex token, used for ETags and leases.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}

// Times are stored as Unix nanoseconds, which order like time.Time and keep
// full precision. Instants outside 1678-2262 are clamped.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return minNanos.UnixNano()
	case t.After(maxNanos):
		return maxNanos.UnixNano()
	}
	return t.UnixNano()
}

var (
	minNanos = time.Unix(0, -1<<63).UTC()
	maxNanos = time.Unix(0, 1<<63-1).UTC()
)

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// nullNanos is nanos(t), or NULL for the zero time.
func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: nanos(t), Valid: true}
}
