package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/privops/privops/shared/privacy"
)

// TenantETag returns the stored ETag of tenant id without reading its
// document: the lifecycle (shared/dsr) keeps the tenants it decoded lately
// and checks each against this before using it. Every tenant write stores a
// new ETag with the document, so an unchanged ETag is an unchanged tenant.
// It returns a wrapped privacy.ErrNotFound if the tenant does not exist.
func (s *Store) TenantETag(ctx context.Context, id string) (string, error) {
	var etag string
	err := s.db.r.QueryRowContext(ctx, "SELECT etag FROM tenants WHERE id = ?", id).Scan(&etag)
	if errors.Is(err, sql.ErrNoRows) {
		err = privacy.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("tenant etag %s: %w", id, translate(err))
	}
	return etag, nil
}
