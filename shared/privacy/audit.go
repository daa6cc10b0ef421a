package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// AuditEvent is one entry of a tenant's append-only audit trail. Each entry is
// chained to the previous by SHA-256 so a removed or altered entry is detected.
// It outlives erasure, so it names the subject only by a keyed hash, and its
// Details never hold personal data (ids, counts, codes and reasons only).
type AuditEvent struct {
	ID          string            `json:"id"` // unique per tenant: appending the same ID twice is a no-op
	TenantID    string            `json:"tenantId"`
	Seq         int64             `json:"seq"` // 1, 2, 3, ... per tenant; assigned by the store
	At          time.Time         `json:"at"`
	Actor       string            `json:"actor"`  // "subject", "system", or "admin:<sub>"
	Action      string            `json:"action"` // "request.submitted", "request.approved", ...
	Target      string            `json:"target"` // "request/<id>", "tenant/<id>"
	SubjectHash string            `json:"subjectHash,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	PrevHash    string            `json:"prevHash"` // assigned by the store
	Hash        string            `json:"hash"`     // assigned by the store: ChainHash
}

// ChainHash is the hash of e chained to e.PrevHash: SHA-256 over the previous
// hash and the canonical JSON of every field but Hash.
func ChainHash(e AuditEvent) string {
	e.Hash = ""
	e.At = e.At.UTC()
	b, _ := json.Marshal(e) // struct fields in order, map keys sorted: canonical
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Seal sets e's chain fields to follow prev (nil for the first event).
func Seal(e *AuditEvent, prev *AuditEvent) {
	e.Seq, e.PrevHash = 1, ""
	if prev != nil {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	e.Hash = ChainHash(*e)
}

// ChainBreak says where a chain fails verification.
type ChainBreak struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// VerifyChain checks that events (in Seq order, starting after the event whose
// hash is prevHash) are consecutive and correctly chained.
func VerifyChain(prevSeq int64, prevHash string, events []AuditEvent) *ChainBreak {
	for _, e := range events {
		switch {
		case e.Seq != prevSeq+1:
			return &ChainBreak{Seq: e.Seq, Reason: "sequence gap"}
		case e.PrevHash != prevHash:
			return &ChainBreak{Seq: e.Seq, Reason: "previous hash mismatch"}
		case ChainHash(e) != e.Hash:
			return &ChainBreak{Seq: e.Seq, Reason: "hash mismatch"}
		}
		prevSeq, prevHash = e.Seq, e.Hash
	}
	return nil
}

// SubjectHasher derives the keyed hash by which the audit and the tombstone
// ledger refer to a subject: HMAC-SHA256(key, tenant | normalised email).
type SubjectHasher struct{ Key []byte }

// Hash returns the keyed hash of a subject's email for a tenant.
func (h SubjectHasher) Hash(tenantID, email string) string {
	m := hmac.New(sha256.New, h.Key)
	m.Write([]byte(tenantID))
	m.Write([]byte{0})
	m.Write([]byte(NormalizeEmail(email)))
	return hex.EncodeToString(m.Sum(nil))
}

// NormalizeEmail lower-cases and trims an address for hashing and matching.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
