package cosmos

import (
	"fmt"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Container names. infra/cosmos.bicep declares the same containers (a test
// keeps the two in step).
const (
	TenantsContainer  = "tenants"
	RequestsContainer = "requests"
	AuditContainer    = "audit"
)

// PartitionKeyPath is the partition key of every container: the tenant id
// (DESIGN.md, "Partitioning"). A tenant's documents share a logical partition,
// so no tenant-scoped call ever leaves it.
const PartitionKeyPath = "/tenantId"

// ContainerSpec describes one container: its name, partition key, the paths
// its queries filter or sort on (the only ones indexed; everything else,
// subjects, changes, outboxes and audit details included, is excluded to keep
// writes cheap) and its default TTL (nil: TTL off; -1: on, but nothing expires
// unless a document sets its own ttl).
type ContainerSpec struct {
	Name         string
	PartitionKey string
	Indexed      []string
	DefaultTTL   *int32
}

// Containers lists every container the store uses.
//
// Documents, one per line of the layout:
//   - tenants: one document per tenant, id = tenantId = the tenant id.
//   - requests: one document per request, id = the request id. A request and
//     (when they arrive) its tasks are one document, so every state change is
//     one write guarded by its ETag; no transactional batch is needed.
//   - requests, docType "inbound": one document per inbound record (see
//     inbound.go), id = "inbound:" + the record id, so it never collides with
//     a request's id. It reuses the requests' indexed listKey (received time,
//     then record id) and status, so the container's indexing policy serves
//     both; every request query names docType "request".
//   - audit: one document per event (id "event-" + hash of the event id) plus
//     one head document per tenant (id "head") that holds the newest event;
//     see audit.go for the append protocol.
//   - breachsend: the breach subject fan-out's campaigns, counters, recipient
//     lists (personal data, purged by the fan-out), ledger, staged lists and
//     batch claims; see breachsend.go. TTL off: the fan-out deletes its lists
//     itself, on time, and audits it.
//
// TTL: the requests container has TTL switched on with no default (-1), so the
// retention sweep can give a finished request a per-document ttl once its
// keeping period ends, and an inbound record with an ExpiresAt carries a ttl
// that deletes it then (a rejected message's body may hold personal data). The audit container has TTL off:
// the audit trail outlives erasure (GDPR Art. 5(2) accountability) and is never
// expired. Tenants never expire.
var Containers = []ContainerSpec{
	{Name: TenantsContainer, PartitionKey: PartitionKeyPath, Indexed: []string{"/tenantId/?", "/docType/?"}},
	{Name: RequestsContainer, PartitionKey: PartitionKeyPath, DefaultTTL: ptr[int32](-1), Indexed: []string{
		"/tenantId/?", "/docType/?", "/status/?", "/type/?", "/listKey/?", "/outboxSince/?", "/openDueAt/?"}},
	{Name: AuditContainer, PartitionKey: PartitionKeyPath, Indexed: []string{"/tenantId/?", "/docType/?", "/seq/?"}},
	{Name: BreachSendContainer, PartitionKey: PartitionKeyPath, Indexed: []string{
		"/tenantId/?", "/docType/?", "/incidentId/?", "/listId/?", "/seq/?", "/purgeAt/?"}},
}

func ptr[T any](v T) *T { return &v }

// Document types, in each document's docType field.
const (
	docTenant     = "tenant"
	docRequest    = "request"
	docAuditEvent = "audit-event"
	docAuditHead  = "audit-head"
	docInbound    = "inbound"
)

// inboundIDPrefix starts the document id of every inbound record.
const inboundIDPrefix = "inbound:"

// tenantDoc is a tenant as stored: the domain's JSON plus the partition key.
type tenantDoc struct {
	*privacy.Tenant
	TenantID string `json:"tenantId"`
	DocType  string `json:"docType"`
	SysETag  string `json:"_etag,omitempty"` // read from query results; never written
}

// requestDoc is a request as stored: the domain's JSON plus the fields the
// queries filter and sort on. Times are fixed-width nanosecond strings so
// that string order is time order and nothing is lost to JSON numbers.
type requestDoc struct {
	*privacy.Request
	DocType string `json:"docType"`
	// ListKey orders the listing newest first: created time, then id.
	ListKey string `json:"listKey"`
	// OutboxSince is Request.AttentionAt: the oldest unpublished outbox event
	// or the time a task should have moved (absent when neither): the watch
	// re-drives the request once it is past.
	OutboxSince string `json:"outboxSince,omitempty"`
	// OpenDueAt is the due time of an open request (absent once terminal or
	// without a deadline): the watch counts it once it is overdue.
	OpenDueAt string `json:"openDueAt,omitempty"`
	SysETag   string `json:"_etag,omitempty"`
}

// adapterFields are the JSON names the store adds to domain documents; a test
// checks that the domain never uses them.
var adapterFields = []string{"tenantId", "docType", "listKey", "outboxSince", "openDueAt", "_etag", "ttl"}

func newRequestDoc(r *privacy.Request) requestDoc {
	d := requestDoc{Request: r, DocType: docRequest, ListKey: timeKey(r.CreatedAt) + "|" + r.ID}
	if at := r.AttentionAt(); !at.IsZero() {
		d.OutboxSince = timeKey(at)
	}
	if !r.Status.Terminal() && !r.Due.At.IsZero() {
		d.OpenDueAt = timeKey(r.Due.At)
	}
	return d
}

// timeKey renders t as 20 digits of Unix nanoseconds, so that string order is
// time order. Times before 1970 (never stored by the suite) count as 1970.
func timeKey(t time.Time) string {
	if t.Before(time.Unix(0, 0)) {
		return strings.Repeat("0", 20)
	}
	return fmt.Sprintf("%020d", t.UnixNano())
}

// validID reports whether id can be a Cosmos document id: 1-255 bytes without
// '/', '\', '?' or '#'. An id that fails can never have been stored.
func validID(id string) bool {
	return id != "" && len(id) <= 255 && !strings.ContainsAny(id, `/\?#`)
}
