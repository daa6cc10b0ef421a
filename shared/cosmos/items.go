package cosmos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/privacy"
)

// Tenant data containers: the privacy.DataItems the built-in cosmos connector
// searches. They are containers of the store's database named by a service's
// container setting, owned by the tenant's application (infra/cosmos.bicep
// does not declare them and the store never creates them on a call: only
// EnsureDataContainer does, for tests and development). Like the store's own
// containers they are partitioned by tenantId, and every item carries tenantId
// and id, so every call below stays in the tenant's partition.
//
// Round trips per call, each retried as the store's retry policy says:
//   - QueryItems: one single-partition query per result page (at least one).
//   - DeleteItems: the same query selecting only ids (one per page, at least
//     one), then one point delete per matching item.
//   - PutItem: one upsert.

var _ privacy.DataItems = (*Store)(nil)

// systemProperties are the properties Cosmos adds to every item. QueryItems
// strips them: a subject's export holds their data, not Cosmos bookkeeping.
// tenantId stays: it is a property of the tenant's own items.
var systemProperties = []string{"_rid", "_self", "_etag", "_attachments", "_ts"}

// QueryItems calls fn with every item of the tenant in container whose value
// at path equals value, page by page, without the system properties. A
// container that does not exist is a wrapped privacy.ErrNotFound; fn's error
// ends the query and is returned as is.
func (s *Store) QueryItems(ctx context.Context, tenantID, container, path, value string, fn func(item []byte) error) error {
	c, filter, err := s.itemQuery(tenantID, container, path)
	if err != nil {
		return fmt.Errorf("query items: %w", err)
	}
	var fnErr error
	err = query(ctx, c, azcosmos.NewPartitionKeyString(tenantID), false, "SELECT * FROM c WHERE "+filter,
		params("@tenantId", tenantID, "@value", value), nil, 0, func(raw []byte) error {
			item, err := withoutSystemProperties(raw)
			if err != nil {
				return err
			}
			if fnErr = fn(item); fnErr != nil {
				return fnErr
			}
			return nil
		})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("query items in %s: %w", container, err)
	}
	return nil
}

// DeleteItems deletes the tenant's items in container whose value at path
// equals value and returns how many it deleted. It collects the matching ids
// first (ids only, never the items) and then deletes each with a point delete
// in the tenant's partition, so no delete can move a query page under it. An
// item already gone (404) is not an error and not counted, which makes a
// repeated call harmless. An error leaves the items not yet deleted in place;
// the next call finds them.
func (s *Store) DeleteItems(ctx context.Context, tenantID, container, path, value string) (int, error) {
	c, filter, err := s.itemQuery(tenantID, container, path)
	if err != nil {
		return 0, fmt.Errorf("delete items: %w", err)
	}
	pk := azcosmos.NewPartitionKeyString(tenantID)
	var ids []string
	err = query(ctx, c, pk, false, "SELECT c.id FROM c WHERE "+filter,
		params("@tenantId", tenantID, "@value", value), nil, 0, func(raw []byte) error {
			var v struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			ids = append(ids, v.ID)
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("delete items in %s: %w", container, err)
	}
	n := 0
	for _, id := range ids {
		if !validID(id) {
			// Not addressable by a point delete: refuse rather than report an
			// erasure that left the item behind.
			return n, fmt.Errorf("delete items in %s: an item's id cannot be addressed by a point delete", container)
		}
		if _, err := c.DeleteItem(ctx, pk, id, nil); err != nil {
			if statusOf(err) == http.StatusNotFound {
				continue // deleted meanwhile: gone, but not by this call
			}
			return n, fmt.Errorf("delete items in %s: %w", container, translate(err))
		}
		n++
	}
	return n, nil
}

// PutItem stores item, a JSON object with a string "id", in the tenant's
// partition of container, replacing any item of that id (one upsert). Its
// tenantId is set to tenantID whatever the item says, so an item can never
// land in another tenant's partition. A container that does not exist is a
// wrapped privacy.ErrNotFound.
func (s *Store) PutItem(ctx context.Context, tenantID, container string, item []byte) error {
	c, err := s.dataContainer(tenantID, container)
	if err != nil {
		return fmt.Errorf("put item: %w", err)
	}
	doc, err := withTenant(item, tenantID)
	if err != nil {
		return fmt.Errorf("put item: %w", err)
	}
	if _, err := c.UpsertItem(ctx, azcosmos.NewPartitionKeyString(tenantID), doc, nil); err != nil {
		return fmt.Errorf("put item in %s: %w", container, translate(err))
	}
	return nil
}

// itemQuery checks a query's arguments and returns the container's client and
// the WHERE condition, with parameters @tenantId and @value.
func (s *Store) itemQuery(tenantID, container, path string) (*azcosmos.ContainerClient, string, error) {
	c, err := s.dataContainer(tenantID, container)
	if err != nil {
		return nil, "", err
	}
	expr, err := pathExpr(path)
	if err != nil {
		return nil, "", err
	}
	// The partition key confines the query to the tenant on Cosmos; the
	// tenantId condition says the same in the query itself, so the tenant
	// boundary never rests on a request header alone. (@vercel/cosmosdb-server
	// ignores a query's partition key and refuses a query without this
	// condition: there, it is the whole boundary.)
	return c, "c.tenantId = @tenantId AND " + expr + " = @value", nil
}

// pathExpr turns an identity path ("/contact/email") into a Cosmos SQL
// property expression in bracket notation (c["contact"]["email"]). Each
// segment is 1 or more letters, digits, '_' or '-' (as privacy.Service
// validates them), so none needs escaping and none can be read as syntax;
// bracket notation also takes names a dotted path cannot, such as "e-mail" or
// "2fa". Any other path is refused with a *privacy.Error "invalid-identity-path".
func pathExpr(path string) (string, error) {
	refused := privacy.Errorf(privacy.KindInvalid, "invalid-identity-path",
		"an identity path is /name(/name)*, names of letters, digits, '_' and '-', at most 200 bytes")
	if len(path) < 2 || len(path) > 200 || path[0] != '/' {
		return "", refused
	}
	var b strings.Builder
	b.WriteString("c")
	for seg := range strings.SplitSeq(path[1:], "/") {
		if seg == "" {
			return "", refused
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return "", refused
			}
		}
		b.WriteString(`["` + seg + `"]`)
	}
	return b.String(), nil
}

// validDataContainer reports whether name can be a tenant data container: 3-40
// of a-z, 0-9 and '-', and none of the store's own containers, which hold the
// suite's documents in the same partitions and must never be searched or
// erased by a connector.
func validDataContainer(name string) bool {
	if len(name) < 3 || len(name) > 40 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return !slices.ContainsFunc(Containers, func(c ContainerSpec) bool { return c.Name == name })
}

// dataClients caches the client of each tenant data container a store has
// used, keyed by the store (weakly) and the container name. A client is only
// a name and a link, but the connector asks for the same few containers on
// every call. A store's entries are dropped once the store is collected.
var (
	dataClients sync.Map // dataKey → *azcosmos.ContainerClient
	dataOwners  sync.Map // weak.Pointer[Store] → struct{}, stores with a cleanup registered
)

type dataKey struct {
	store weak.Pointer[Store]
	name  string
}

// dataContainer returns the client of a tenant data container after checking
// the tenant id and the container name. It makes no network call.
func (s *Store) dataContainer(tenantID, name string) (*azcosmos.ContainerClient, error) {
	if tenantID == "" {
		return nil, errors.New("a tenant id is required")
	}
	if !validDataContainer(name) {
		return nil, privacy.Errorf(privacy.KindInvalid, "invalid-container",
			"a data container name is 3-40 of a-z, 0-9 and '-', and not one of the store's own containers")
	}
	owner := weak.Make(s)
	key := dataKey{store: owner, name: name}
	if c, ok := dataClients.Load(key); ok {
		return c.(*azcosmos.ContainerClient), nil
	}
	c, err := s.db.NewContainer(name)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", name, err)
	}
	if _, loaded := dataOwners.LoadOrStore(owner, struct{}{}); !loaded {
		runtime.AddCleanup(s, dropDataClients, owner)
	}
	got, _ := dataClients.LoadOrStore(key, c)
	return got.(*azcosmos.ContainerClient), nil
}

// dropDataClients forgets the data container clients of a collected store.
func dropDataClients(owner weak.Pointer[Store]) {
	dataClients.Range(func(k, _ any) bool {
		if k.(dataKey).store == owner {
			dataClients.Delete(k)
		}
		return true
	})
	dataOwners.Delete(owner)
}

// field is one top-level property of a JSON object, its value as written.
type field struct {
	name  string
	value json.RawMessage
}

// objectFields splits a JSON object into its top-level properties, in order,
// keeping each value's text (numbers keep their precision).
func objectFields(raw []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("an item is a JSON object")
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("an item is a JSON object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("an item is a JSON object")
		}
		out = append(out, field{name: tok.(string), value: v})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("an item is a JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("an item is one JSON object")
	}
	return out, nil
}

// encodeObject writes fields back as a JSON object, in order.
func encodeObject(fields []field) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(f.name) // a string always marshals
		b.Write(name)
		b.WriteByte(':')
		b.Write(f.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// withoutSystemProperties returns a query result without systemProperties,
// its other properties in their order.
func withoutSystemProperties(raw []byte) ([]byte, error) {
	fields, err := objectFields(raw)
	if err != nil {
		return nil, err
	}
	return encodeObject(slices.DeleteFunc(fields, func(f field) bool {
		return slices.Contains(systemProperties, f.name)
	})), nil
}

// withTenant checks that item is a JSON object with a string id that can be a
// document id, and returns it with tenantId set to tenantID: any tenantId it
// has is dropped and tenantID's added as the last property.
func withTenant(item []byte, tenantID string) ([]byte, error) {
	fields, err := objectFields(item)
	if err != nil {
		return nil, err
	}
	var id string
	hasID := false
	for _, f := range fields {
		if f.name == "id" {
			// The last one counts, as for every JSON decoder that keeps one.
			hasID = json.Unmarshal(f.value, &id) == nil
		}
	}
	if !hasID || !validID(id) {
		return nil, errors.New("an item needs a string id of 1-255 bytes without '/', '\\', '?' or '#'")
	}
	tenant, _ := json.Marshal(tenantID) // a string always marshals
	fields = slices.DeleteFunc(fields, func(f field) bool { return f.name == "tenantId" })
	return encodeObject(append(fields, field{name: "tenantId", value: tenant})), nil
}

// ScanItemsBefore calls fn with up to limit items of the tenant in container
// whose id sorts after afterID and whose value at path is an RFC 3339 time
// before before, in id order, without the system properties. Cosmos compares
// strings, not instants, so the query selects a superset (a string below
// before + 14 hours, the widest UTC offset, to the second) and each item's
// time is parsed and checked here; the query stops at limit items checked.
// Round trips: one single-partition query page per page size (limit) read.
func (s *Store) ScanItemsBefore(ctx context.Context, tenantID, container, path string, before time.Time, afterID string, limit int, fn func(id string, doc []byte) error) error {
	c, err := s.dataContainer(tenantID, container)
	if err != nil {
		return fmt.Errorf("scan items: %w", err)
	}
	expr, err := pathExpr(path)
	if err != nil {
		return fmt.Errorf("scan items: %w", err)
	}
	bound := before.UTC().Add(14*time.Hour + time.Second).Format("2006-01-02T15:04:05")
	var fnErr error
	n := 0
	errEnough := errors.New("enough items")
	err = query(ctx, c, azcosmos.NewPartitionKeyString(tenantID), false,
		"SELECT * FROM c WHERE c.tenantId = @tenantId AND c.id > @after AND "+expr+" < @bound ORDER BY c.id",
		params("@tenantId", tenantID, "@after", afterID, "@bound", bound), nil, int32(min(limit, 1000)), func(raw []byte) error {
			item, err := withoutSystemProperties(raw)
			if err != nil {
				return err
			}
			id, at, ok := itemTime(item, path)
			if !ok || !at.Before(before) {
				return nil
			}
			if fnErr = fn(id, item); fnErr != nil {
				return fnErr
			}
			if n++; n == limit {
				return errEnough
			}
			return nil
		})
	if fnErr != nil {
		return fnErr
	}
	if err != nil && !errors.Is(err, errEnough) {
		return fmt.Errorf("scan items in %s: %w", container, err)
	}
	return nil
}

// itemTime returns an item's id and the RFC 3339 time at path.
func itemTime(item []byte, path string) (string, time.Time, bool) {
	var v map[string]any
	if err := json.Unmarshal(item, &v); err != nil {
		return "", time.Time{}, false
	}
	id, _ := v["id"].(string)
	var cur any = v
	for seg := range strings.SplitSeq(path[1:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return id, time.Time{}, false
		}
		cur = m[seg]
	}
	s, _ := cur.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	return id, t, err == nil && id != ""
}

// DeleteItemIDs deletes the tenant's items in container with these ids, one
// point delete each in the tenant's partition (no transactional batch: none
// is needed, each delete is idempotent), and returns how many it deleted; an
// item already gone (404) is not counted. Round trips: one per id.
func (s *Store) DeleteItemIDs(ctx context.Context, tenantID, container string, ids []string) (int, error) {
	c, err := s.dataContainer(tenantID, container)
	if err != nil {
		return 0, fmt.Errorf("delete items: %w", err)
	}
	pk := azcosmos.NewPartitionKeyString(tenantID)
	n := 0
	for _, id := range ids {
		if !validID(id) {
			return n, fmt.Errorf("delete items in %s: an item's id cannot be addressed by a point delete", container)
		}
		if _, err := c.DeleteItem(ctx, pk, id, nil); err != nil {
			if statusOf(err) == http.StatusNotFound {
				continue
			}
			return n, fmt.Errorf("delete items in %s: %w", container, translate(err))
		}
		n++
	}
	return n, nil
}

// MarkItemsStorageOnly sets the property privopsStorageOnly to at on the
// tenant's items in container with these ids that do not have it yet, and
// counts those it changed (retention.Marker): a point read and an
// ETag-guarded replace per item in the tenant's partition (a concurrent
// change makes it read again); an item gone (404) or marked already is not
// counted. Round trips: two per id.
func (s *Store) MarkItemsStorageOnly(ctx context.Context, tenantID, container string, ids []string, at time.Time) (int, error) {
	c, err := s.dataContainer(tenantID, container)
	if err != nil {
		return 0, fmt.Errorf("mark items: %w", err)
	}
	pk := azcosmos.NewPartitionKeyString(tenantID)
	n := 0
	for _, id := range ids {
		if !validID(id) {
			return n, fmt.Errorf("mark items in %s: an item's id cannot be addressed by a point read", container)
		}
		for attempt := 0; ; attempt++ {
			resp, err := c.ReadItem(ctx, pk, id, nil)
			if statusOf(err) == http.StatusNotFound {
				break
			}
			if err != nil {
				return n, fmt.Errorf("mark items in %s: %w", container, translate(err))
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(resp.Value, &doc); err != nil {
				return n, fmt.Errorf("mark items in %s: decode: %w", container, err)
			}
			if _, ok := doc["privopsStorageOnly"]; ok {
				break
			}
			for _, sys := range []string{"_rid", "_self", "_etag", "_attachments", "_ts"} {
				delete(doc, sys)
			}
			doc["privopsStorageOnly"], _ = json.Marshal(at.UTC().Format(time.RFC3339Nano))
			body, err := json.Marshal(doc)
			if err != nil {
				return n, fmt.Errorf("mark items in %s: encode: %w", container, err)
			}
			etag := resp.ETag
			_, err = c.ReplaceItem(ctx, pk, id, body, &azcosmos.ItemOptions{IfMatchEtag: &etag})
			if st := statusOf(err); (st == http.StatusPreconditionFailed || st == http.StatusNotFound) && attempt < 4 {
				continue // changed or deleted meanwhile: read again
			}
			if err != nil {
				return n, fmt.Errorf("mark items in %s: %w", container, translate(err))
			}
			n++
			break
		}
	}
	return n, nil
}
