//go:build !privops_lambda && !privops_standalone

package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/privops/privops/shared/privacy"
)

// Azure keeps blobs as block blobs in one Blob storage container, under
// their names as given. A Put stages the stream as blocks and commits the
// block list at the end; the commit is atomic, so readers see the old blob
// until it succeeds, and a Put that fails midway leaves only uncommitted
// blocks, which are invisible and which the service discards after a week.
//
// The account's blob soft delete and versioning, if enabled, keep deleted
// and replaced export packages for their retention period: the
// infrastructure leaves them off for the export container.
type Azure struct {
	c *container.Client
}

var _ privacy.Blobs = (*Azure)(nil)

// A Put holds at most uploadConcurrency blocks of uploadBlockSize in memory
// (the SDK maps them outside the Go heap): 8 MiB whatever the blob's size.
// 4 MiB blocks keep a 50,000-block blob's limit far away (195 GiB).
const (
	uploadBlockSize   = 4 << 20
	uploadConcurrency = 2
)

// downloadRetries is how often a reader re-requests the rest of a blob after
// the connection broke while reading (the SDK default).
const downloadRetries = 3

// NewAzure returns the adapter on the container c.
func NewAzure(c *container.Client) *Azure {
	return &Azure{c: c}
}

// NewAzureFromConnectionString returns the adapter on the container named
// containerName of the account a connection string names (a storage
// account's key, or Azurite's well-known account in tests). opts may be nil.
func NewAzureFromConnectionString(connectionString, containerName string, opts *container.ClientOptions) (*Azure, error) {
	c, err := container.NewClientFromConnectionString(connectionString, containerName, opts)
	if err != nil {
		// The SDK names what is missing or malformed, never the key itself.
		return nil, fmt.Errorf("azure blob connection string: %w", err)
	}
	return NewAzure(c), nil
}

// NewAzureWithCredential returns the adapter on the container containerName
// of the account at accountURL ("https://<account>.blob.core.windows.net/"),
// authenticated by cred: in production a managed identity
// (azidentity.NewManagedIdentityCredential), which needs the "Storage Blob
// Data Contributor" role on the container. opts may be nil.
func NewAzureWithCredential(accountURL, containerName string, cred azcore.TokenCredential, opts *container.ClientOptions) (*Azure, error) {
	c, err := container.NewClient(runtime.JoinPaths(accountURL, containerName), cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure blob client: %w", err)
	}
	return NewAzure(c), nil
}

// EnsureContainer creates the container unless it exists. The composition
// root calls it once at start-up; Bicep creates the container in production,
// so there it only checks access.
func (a *Azure) EnsureContainer(ctx context.Context) error {
	_, err := a.c.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("create blob container: %w", translate(err))
	}
	return nil
}

// Put streams r into the block blob name, replacing any earlier one
// atomically. It returns the number of bytes read from r.
func (a *Azure) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	cr := &countingReader{r: r}
	_, err := a.c.NewBlockBlobClient(name).UploadStream(ctx, cr, &blockblob.UploadStreamOptions{
		BlockSize:   uploadBlockSize,
		Concurrency: uploadConcurrency,
	})
	if err != nil {
		return 0, fmt.Errorf("put blob %s: %w", name, translate(err))
	}
	return cr.n, nil
}

// Open returns a reader of the blob name and its size, or an error wrapping
// privacy.ErrNotFound if there is none. The reader must be read before ctx
// ends. If the connection breaks while reading, it asks for the rest of the
// same version of the blob (by ETag): a Put in between makes the read fail
// rather than splice two versions.
func (a *Azure) Open(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	if err := checkName(name); err != nil {
		return nil, 0, err
	}
	resp, err := a.c.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("open blob %s: %w", name, translate(err))
	}
	body := resp.NewRetryReader(ctx, &sdkblob.RetryReaderOptions{MaxRetries: downloadRetries})
	if resp.ContentLength == nil {
		body.Close()
		return nil, 0, fmt.Errorf("open blob %s: the service sent no content length", name)
	}
	return &translatingReader{rc: body}, *resp.ContentLength, nil
}

// Delete removes the blob name and its snapshots; an absent blob is not an
// error.
func (a *Azure) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	_, err := a.c.NewBlobClient(name).Delete(ctx, &sdkblob.DeleteOptions{
		DeleteSnapshots: to.Ptr(sdkblob.DeleteSnapshotsOptionTypeInclude),
	})
	if err != nil {
		if err = translate(err); errors.Is(err, privacy.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete blob %s: %w", name, err)
	}
	return nil
}

// translate maps an SDK error to the port's sentinels; it is the one place
// that does. 404 (BlobNotFound, ContainerNotFound) is privacy.ErrNotFound;
// 408, 429, 500, 502, 503, 504 (the SDK has already retried them), a
// container still being deleted, and time-outs are privacy.ErrUnavailable.
// The SDK's error stays in the chain for errors.As, but its text, which
// quotes the response body, is replaced by the status and the storage error
// code.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		se := &statusError{status: re.StatusCode, code: re.ErrorCode, err: re}
		switch {
		case re.StatusCode == http.StatusNotFound,
			bloberror.HasCode(re, bloberror.BlobNotFound, bloberror.ContainerNotFound):
			return fmt.Errorf("%w: %w", privacy.ErrNotFound, se)
		case re.StatusCode == http.StatusRequestTimeout,
			re.StatusCode == http.StatusTooManyRequests,
			re.StatusCode == http.StatusInternalServerError,
			re.StatusCode == http.StatusBadGateway,
			re.StatusCode == http.StatusServiceUnavailable,
			re.StatusCode == http.StatusGatewayTimeout,
			bloberror.HasCode(re, bloberror.ServerBusy, bloberror.OperationTimedOut,
				bloberror.InternalError, bloberror.ContainerBeingDeleted):
			return fmt.Errorf("%w: %w", privacy.ErrUnavailable, se)
		}
		return se
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", privacy.ErrUnavailable, err)
	}
	return err
}

// statusError is an SDK response error with a short text: the status and the
// storage error code, never the response body or the URL.
type statusError struct {
	status int
	code   string
	err    *azcore.ResponseError
}

func (e *statusError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("azure blob answered %d", e.status)
	}
	return fmt.Sprintf("azure blob answered %d (%s)", e.status, e.code)
}

func (e *statusError) Unwrap() error { return e.err }

// countingReader counts the bytes a Put read from its source.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// translatingReader translates the errors of a download's body, so that a
// reader of a blob sees the port's sentinels too.
type translatingReader struct {
	rc io.ReadCloser
}

func (t *translatingReader) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if err != nil && err != io.EOF {
		err = translate(err)
	}
	return n, err
}

func (t *translatingReader) Close() error { return t.rc.Close() }
