package sender

// Retention purges of a Service Bus service: privops sends a signed purge
// command (PurgeCommand) to the service's own queue; the service checks it
// (VerifyCommand), deletes what of the category is past the cutoff — sparing
// the subjects the command's exclusion list names (ExclusionHash) — and
// answers with a TypePurgeCompleted event (NewPurgeCompleted) on the inbound
// queue, signed like every message to privops.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PurgeCommandType is the type of the purge command privops sends to a
// Service Bus service's queue (a CloudEvent like the task messages).
const PurgeCommandType = "io.privops.retention.purge.v1"

// CommandKeyLabel derives the key privops signs commands to a service's
// queue with from the service's secret (newSecret of PUT …/services/{id},
// base64-decoded): HMAC-SHA256(secret, label). The secret is the service's
// and privops's alone (not the tenant's inbound keys, which all its systems
// hold), and the command key is a key of its own, used for nothing else.
const CommandKeyLabel = "privops-servicebus/command"

// PurgeCommand is the data of a purge command. It names no subject.
type PurgeCommand struct {
	PurgeID  string `json:"purgeId"`  // the run and the policy; the broker message id is built from it
	RunID    string `json:"runId"`    // answer it back in PurgeCompleted.RunID
	PolicyID string `json:"policyId"` // answer it back in PurgeCompleted.PolicyID
	Category string `json:"category"` // customer, administrator, payment, support or system-logs
	From     string `json:"from"`     // created, last-modified or account-closed: your own timestamps
	// Cutoff (RFC 3339, UTC): delete the category's data whose From time is
	// before it.
	Cutoff string `json:"cutoff"`
	// DryRun (a preview's command; RunID is then preview_<unix
	// deadline>_<random>, and only a service listing purge-dry-run gets
	// one): count what you would delete, delete nothing, answer with
	// DryRun set.
	DryRun bool `json:"dryRun"`
	// AnswerBy (RFC 3339, UTC): privops reports the policy no-answer if your
	// answer has not arrived by then.
	AnswerBy string `json:"answerBy"`
	// Exclusions, when present: spare every subject whose ExclusionHash
	// under Salt is in Hashes (legal holds), and count them KeptByHold.
	Exclusions *Exclusions `json:"exclusions,omitempty"`
}

// Exclusions is a purge's list of held subjects, as salted hashes.
type Exclusions struct {
	Salt   string   `json:"salt"`   // standard base64 of 32 random bytes, fresh per command
	Hashes []string `json:"hashes"` // ExclusionHash of each held subject's email, sorted
}

// NormalizeEmail is how an email is normalised before it is hashed: white
// space (Unicode) trimmed at both ends, then lower-cased (Unicode simple
// case mapping, Go's strings.ToLower). Nothing else: no dots removed, no
// "+tag" cut, no IDNA conversion.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ExclusionHash is how a purge command names a held subject:
// lower-case hex of HMAC-SHA256(salt, NormalizeEmail(email)), salt being the
// decoded bytes of Exclusions.Salt. Hash each of your subjects' emails the
// same way and spare those whose hash is listed.
func ExclusionHash(salt []byte, email string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(NormalizeEmail(email)))
	return hex.EncodeToString(m.Sum(nil))
}

// CommandKey is the key commands are signed with for a service secret (the
// decoded bytes).
func CommandKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(CommandKeyLabel))
	return m.Sum(nil)
}

// SignCommand returns the SignatureProperty of a command body signed at now
// with each of keys' command keys:
//
//	t=<unix seconds>,k=<key id>,v1=<hex HMAC-SHA256(CommandKey(secret), "<t>." + body)>[,k=<key id>,v1=<…>]
//
// one k, v1 pair per active secret of the service (two while it rolls one),
// k the secret's id.
func SignCommand(keys []Key, body []byte, now time.Time) string {
	t := strconv.FormatInt(now.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + t)
	for _, k := range keys {
		b.WriteString(",k=" + k.ID + ",v1=" + hex.EncodeToString(commandMAC(k.Secret, t, body)))
	}
	return b.String()
}

func commandMAC(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, CommandKey(secret))
	m.Write([]byte(t + "."))
	m.Write(body)
	return m.Sum(nil)
}

// ErrBadCommand is VerifyCommand's answer to a command that is not
// privops's: unsigned, signed with no key given, stale, or altered.
var ErrBadCommand = errors.New("sender: the command's signature does not verify")

// VerifyCommand checks a command's signature property against the
// service's secrets (Key{ID: secret id, Secret: decoded bytes}; any one
// matching suffices) and that its t is within window of now
// (five minutes if window <= 0). Compare before acting on the body.
func VerifyCommand(keys []Key, body []byte, signature string, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = 5 * time.Minute
	}
	parts := strings.Split(signature, ",")
	if len(parts) < 3 || !strings.HasPrefix(parts[0], "t=") {
		return ErrBadCommand
	}
	t := strings.TrimPrefix(parts[0], "t=")
	unix, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return ErrBadCommand
	}
	if d := now.Sub(time.Unix(unix, 0)); d > window || d < -window {
		return ErrBadCommand
	}
	for i := 1; i+1 < len(parts); i += 2 {
		id, ok1 := strings.CutPrefix(parts[i], "k=")
		sig, ok2 := strings.CutPrefix(parts[i+1], "v1=")
		want, err := hex.DecodeString(sig)
		if !ok1 || !ok2 || err != nil {
			return ErrBadCommand
		}
		for _, k := range keys {
			if k.ID == id && hmac.Equal(want, commandMAC(k.Secret, t, body)) {
				return nil
			}
		}
	}
	return ErrBadCommand
}

// Outcomes of a purge answer.
const (
	PurgeDone         = "done"          // the counts are what was deleted (or, on a dry run, would be)
	PurgeNotSupported = "not-supported" // the service has no purge (for this category): nothing deleted
)

// PurgeOutcomes lists every outcome of a purge answer.
var PurgeOutcomes = []string{PurgeDone, PurgeNotSupported}

// PurgeCompleted is the data of a TypePurgeCompleted event: the answer to one
// purge command, with counts, never contents.
type PurgeCompleted struct {
	RunID    string `json:"runId"`    // the command's runId
	PolicyID string `json:"policyId"` // the command's policyId
	DryRun   bool   `json:"dryRun"`   // the command's dryRun
	Outcome  string `json:"outcome"`  // one of PurgeOutcomes
	// Purged counts the items deleted (on a dry run: that would be).
	Purged int64 `json:"purged"`
	// Kept counts the items past the cutoff you keep for your own legal
	// reasons; KeptByHold those spared because the exclusion list names
	// their subject.
	Kept       int64 `json:"kept"`
	KeptByHold int64 `json:"keptByHold"`
}

// NewPurgeCompleted returns the answer to a purge command; its subject is
// the run id.
func NewPurgeCompleted(tenantID, source string, data PurgeCompleted) (*Event, error) {
	switch {
	case data.RunID == "" || data.PolicyID == "":
		return nil, errors.New("sender: data.runId and data.policyId are required")
	case !slices.Contains(PurgeOutcomes, data.Outcome):
		return nil, errors.New("sender: data.outcome must be one of PurgeOutcomes")
	case data.Purged < 0 || data.Kept < 0 || data.KeptByHold < 0:
		return nil, errors.New("sender: counts are not negative")
	case data.Outcome == PurgeNotSupported && (data.Purged != 0 || data.Kept != 0 || data.KeptByHold != 0):
		return nil, errors.New("sender: a not-supported answer counts nothing")
	}
	return newEvent(tenantID, source, TypePurgeCompleted, data.RunID, data)
}
