package privacy

import "context"

// bulkKey marks a context as bulk background work.
type bulkKey struct{}

// Bulk returns ctx marked as bulk background work (a retention sweep's job):
// a store with one writer (the embedded SQLite store) runs the writes made
// under it after the live service's writes, and never in one transaction
// with them, so a sweep does not hold up portal submissions (issue 12 item
// 7). Other stores ignore it.
func Bulk(ctx context.Context) context.Context { return context.WithValue(ctx, bulkKey{}, true) }

// IsBulk reports whether ctx was marked by Bulk.
func IsBulk(ctx context.Context) bool {
	b, _ := ctx.Value(bulkKey{}).(bool)
	return b
}
