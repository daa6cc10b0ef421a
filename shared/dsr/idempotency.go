package dsr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Admin changes accept an Idempotency-Key (the admin function puts the
// header into the context): an approval whose answer was lost in a crash can
// be sent again and gets the first answer instead of a conflict. The key is
// recorded, as keyed hashes only, in the same ETag-guarded write as the change
// it made, on the request (or, for legal holds, the tenant) document: no
// record of its own, no second write, no query. As at intake (Submit), the
// same key with a different change is refused with idempotency-key-reused.

type idemCtxKey struct{}

// WithIdempotencyKey returns ctx carrying an admin call's Idempotency-Key.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return context.WithValue(ctx, idemCtxKey{}, key)
}

// errReplay stops a change whose key was already recorded: nothing is
// written, and the caller answers with what is stored.
var errReplay = errors.New("idempotent replay")

// keepOps bounds the records a document keeps: the newest, of the last day.
const (
	keepOps   = 20
	keepOpsAt = 24 * time.Hour
)

// opKey is one keyed admin change; nil when the call carried no key.
type opKey struct {
	keyHash, hash string
}

// idem returns the keyed change for ctx's Idempotency-Key, or nil without one.
// op names the change, params are what it depends on.
func (s *Service) idem(ctx context.Context, tenantID string, actor Actor, op string, params ...string) (*opKey, error) {
	key, _ := ctx.Value(idemCtxKey{}).(string)
	if key == "" {
		return nil, nil
	}
	if len(key) > 200 {
		return nil, privacy.Errorf(privacy.KindInvalid, "invalid-idempotency-key", "Idempotency-Key must be at most 200 characters")
	}
	h := sha256.New()
	for _, p := range append([]string{op}, params...) {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return &opKey{keyHash: hex.EncodeToString(s.mac("admin-idempotency", tenantID, actor.String(), key)[:16]),
		hash: hex.EncodeToString(h.Sum(nil)[:16])}, nil
}

// check looks the key up in a document's records: errReplay with the record
// when the same change was made with it, idempotency-key-reused when another
// one was, nil when the key is new (or there is none).
func (k *opKey) check(ops []privacy.IdempotentOp) (*privacy.IdempotentOp, error) {
	if k == nil {
		return nil, nil
	}
	i := slices.IndexFunc(ops, func(o privacy.IdempotentOp) bool { return o.KeyHash == k.keyHash })
	switch {
	case i < 0:
		return nil, nil
	case ops[i].Hash != k.hash:
		return nil, privacy.Errorf(privacy.KindConflict, "idempotency-key-reused", "this Idempotency-Key was used for a different change")
	}
	return &ops[i], errReplay
}

// record adds the key to a document's records, in the change's own write.
func (k *opKey) record(ops *[]privacy.IdempotentOp, ref string, now time.Time) {
	if k == nil {
		return
	}
	*ops = slices.DeleteFunc(*ops, func(o privacy.IdempotentOp) bool { return now.Sub(o.At) > keepOpsAt })
	*ops = append(*ops, privacy.IdempotentOp{KeyHash: k.keyHash, Hash: k.hash, Ref: ref, At: now})
	if n := len(*ops); n > keepOps {
		*ops = slices.Delete(*ops, 0, n-keepOps)
	}
}

// keyed wraps a request change with its key: a recorded key stops it
// (errReplay, or idempotency-key-reused), a new one is recorded in its write.
func (s *Service) keyed(k *opKey, change func(*privacy.Request) error) func(*privacy.Request) error {
	return func(r *privacy.Request) error {
		if _, err := k.check(r.AdminOps); err != nil {
			return err
		}
		if err := change(r); err != nil {
			return err
		}
		k.record(&r.AdminOps, "", s.now())
		return nil
	}
}

// replayChange answers a keyed change that was already made: the request as
// it is stored now. If the first call died before carrying out its outbox,
// the replay does it now rather than leave it to the watch.
func (s *Service) replayChange(ctx context.Context, tenantID, id string) (*privacy.Request, error) {
	r, err := s.request(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if len(r.Outbox) > 0 {
		s.flushQuietly(ctx, r)
		if r, err = s.request(ctx, tenantID, id); err != nil {
			return nil, err
		}
	}
	return r, nil
}
