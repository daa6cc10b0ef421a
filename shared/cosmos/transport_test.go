package cosmos

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Kinds of HTTP calls, as the recorder classifies them.
const (
	kindPointRead  = "point-read"  // GET …/docs/{id}
	kindCreate     = "create"      // POST …/docs
	kindUpsert     = "upsert"      // POST …/docs with x-ms-documentdb-is-upsert
	kindReplace    = "replace"     // PUT …/docs/{id}
	kindDelete     = "delete"      // DELETE …/docs/{id}
	kindQuery      = "query"       // POST …/docs query, confined to one partition key
	kindCrossQuery = "cross-query" // POST …/docs query without a partition key: fans out
	kindBatch      = "batch"       // POST …/docs transactional batch (one partition key)
	kindMetadata   = "metadata"    // account, database, container, partition key ranges
)

// call is one HTTP round trip the SDK made.
type call struct {
	Kind      string
	Container string
	Status    int
	Bytes     int // request body size
}

// recorder is a policy.Transporter that records and classifies every HTTP
// call the SDK makes, and can answer a call itself to inject a fault.
type recorder struct {
	next policy.Transporter
	mu   sync.Mutex
	log  []call
	// fault, if set, may answer a call instead of the server.
	fault func(kind string, r *http.Request) *http.Response
}

func (rec *recorder) Do(r *http.Request) (*http.Response, error) {
	kind, container := classify(r)
	n := max(int(r.ContentLength), 0)
	rec.mu.Lock()
	fault := rec.fault
	rec.mu.Unlock()
	var resp *http.Response
	var err error
	if fault != nil {
		resp = fault(kind, r)
	}
	if resp == nil {
		resp, err = rec.next.Do(r)
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	rec.mu.Lock()
	rec.log = append(rec.log, call{Kind: kind, Container: container, Status: status, Bytes: n})
	rec.mu.Unlock()
	return resp, err
}

// take returns the calls recorded since the last take, metadata calls apart
// (the account and container reads the SDK makes once and caches).
func (rec *recorder) take() []call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []call
	for _, c := range rec.log {
		if c.Kind != kindMetadata {
			out = append(out, c)
		}
	}
	rec.log = nil
	return out
}

func (rec *recorder) setFault(f func(kind string, r *http.Request) *http.Response) {
	rec.mu.Lock()
	rec.fault = f
	rec.mu.Unlock()
}

// classify names the kind of a Cosmos REST call and its container.
func classify(r *http.Request) (kind, container string) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// dbs/{db}/colls/{coll}/docs[/{id}]
	if len(parts) < 5 || parts[0] != "dbs" || parts[2] != "colls" || parts[4] != "docs" {
		return kindMetadata, ""
	}
	container = parts[3]
	if len(parts) == 6 {
		switch r.Method {
		case http.MethodGet:
			return kindPointRead, container
		case http.MethodPut:
			return kindReplace, container
		case http.MethodDelete:
			return kindDelete, container
		}
	}
	switch {
	case isQuery(r):
		if pk := r.Header.Get("x-ms-documentdb-partitionkey"); pk == "" || pk == "[]" {
			return kindCrossQuery, container
		}
		return kindQuery, container
	case strings.EqualFold(r.Header.Get("x-ms-cosmos-is-batch-request"), "true"):
		return kindBatch, container
	case r.Header.Get("x-ms-documentdb-is-upsert") != "":
		return kindUpsert, container
	}
	return kindCreate, container
}

// count tallies calls by kind; with statuses, by "kind status".
func count(calls []call, withStatus bool) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		k := c.Kind
		if withStatus {
			k = fmt.Sprintf("%s %d", c.Kind, c.Status)
		}
		out[k]++
	}
	return out
}

// emulatorTransport reaches @vercel/cosmosdb-server. The emulator serves
// HTTPS with a self-signed certificate that has expired and names no host, so
// chain verification is off; instead the connection must present exactly the
// emulator's own certificate (pinned from its package), and the transport
// refuses any host but the emulator's.
type emulatorTransport struct {
	host   string
	client *http.Client
}

func newEmulatorTransport(endpoint, certFile string) (*emulatorTransport, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("COSMOS_ENDPOINT %q is not a URL", endpoint)
	}
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("COSMOS_EMULATOR_CERT: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("COSMOS_EMULATOR_CERT %s holds no PEM certificate", certFile)
	}
	pinned := block.Bytes
	tlsConf := &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin below, for this endpoint only
		VerifyPeerCertificate: func(chain [][]byte, _ [][]*x509.Certificate) error {
			if len(chain) == 0 || !bytes.Equal(chain[0], pinned) {
				return errors.New("the server did not present the pinned emulator certificate")
			}
			return nil
		},
	}
	return &emulatorTransport{host: u.Host, client: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{TLSClientConfig: tlsConf, MaxIdleConnsPerHost: 16}}}, nil
}

func (t *emulatorTransport) Do(r *http.Request) (*http.Response, error) {
	if r.URL.Host != t.host {
		return nil, fmt.Errorf("emulator transport: refusing host %s (only %s)", r.URL.Host, t.host)
	}
	if strings.EqualFold(r.Header.Get("x-ms-cosmos-is-batch-request"), "true") {
		if err := batchPartitionKeys(r); err != nil {
			return nil, err
		}
	}
	resp, err := t.client.Do(r)
	if err != nil || resp.StatusCode != http.StatusInternalServerError || r.Method != http.MethodGet {
		return resp, err
	}
	return missingItemAs404(resp)
}

// missingItemAs404 works around an emulator deviation: @vercel/cosmosdb-server
// answers a point read of a missing item (or of an item in another partition)
// with 500 "Cannot read properties of undefined", where Cosmos answers 404
// NotFound. That one answer, and no other 500, becomes the 404 Cosmos sends,
// so the adapter's real-Cosmos handling is what runs.
func missingItemAs404(resp *http.Response) (*http.Response, error) {
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if strings.Contains(string(body), "Cannot read properties of undefined") {
		resp.StatusCode, resp.Status = http.StatusNotFound, "404 Not Found"
		body = []byte(`{"code":"NotFound","message":"Entity with the specified id does not exist in the system."}`)
		resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
		resp.ContentLength = int64(len(body))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// batchPartitionKeys works around an emulator deviation: @vercel/cosmosdb-server
// reads the partition key of each operation of a transactional batch from the
// operation ("partitionKey"), where Cosmos takes the batch's one partition key
// from the x-ms-documentdb-partitionkey header, which is all the Go SDK sends;
// without it the emulator fails every operation but a create with a 500. The
// header's value is copied into each operation, so the emulator runs the
// batch the SDK sent. (Its other batch deviations, no rollback and 200 for a
// failed batch, are the adapter's to cope with: see BreachSendStore.execute.)
func batchPartitionKeys(r *http.Request) error {
	if r.Body == nil {
		return nil
	}
	raw, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return err
	}
	var ops []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil {
		return fmt.Errorf("emulator transport: batch body: %w", err)
	}
	pk := r.Header.Get("x-ms-documentdb-partitionkey")
	for _, op := range ops {
		if _, ok := op["partitionKey"]; !ok {
			op["partitionKey"], _ = json.Marshal(pk)
		}
	}
	if raw, err = json.Marshal(ops); err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	r.Header.Set("Content-Length", fmt.Sprint(len(raw)))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return nil
}

// throttled is an injected 429 with the retry-after Cosmos sends.
func throttled(r *http.Request, after time.Duration) *http.Response {
	body := `{"code":"TooManyRequests","message":"Request rate is large"}`
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("x-ms-retry-after-ms", fmt.Sprint(after.Milliseconds()))
	h.Set("x-ms-substatus", "3200")
	return &http.Response{StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests", Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

// badRequest is an injected 400, as Cosmos answers an expired or foreign
// continuation token.
func badRequest(r *http.Request) *http.Response {
	body := `{"code":"BadRequest","message":"Invalid Continuation Token"}`
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}
