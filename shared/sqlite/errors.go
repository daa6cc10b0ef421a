package sqlite

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/privops/privops/shared/privacy"
)

// translate maps SQLite errors to the port's sentinels, keeping the original in
// the chain: a unique or primary key violation is privacy.ErrConflict, a busy or
// locked database privacy.ErrUnavailable. Other errors, and errors already
// translated, pass through. SQLite's messages name tables and columns, never
// values, so no personal data reaches the error text.
func translate(err error) error {
	var se *sqlite.Error
	if err == nil || errors.Is(err, privacy.ErrConflict) || errors.Is(err, privacy.ErrUnavailable) || !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("%w: %w", privacy.ErrConflict, err)
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %w", privacy.ErrUnavailable, err)
	}
	return err
}
