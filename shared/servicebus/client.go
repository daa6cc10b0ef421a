package servicebus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// publicCloudSuffix completes a bare namespace name.
const publicCloudSuffix = ".servicebus.windows.net"

// NewClient returns a client for the namespace of a connection string (shared
// access key or signature), for local runs and key auth. The client connects
// lazily; the caller closes it after the Publisher. Errors never quote the
// connection string.
func NewClient(connectionString string) (*azservicebus.Client, error) {
	if connectionString == "" {
		return nil, errors.New("service bus client: the connection string is empty")
	}
	c, err := azservicebus.NewClientFromConnectionString(connectionString, nil)
	if err != nil {
		// The SDK's parse errors name keys, not values; keep it that way by
		// never adding the string here.
		return nil, fmt.Errorf("service bus client from connection string: %w", err)
	}
	return c, nil
}

// NewClientWithCredential returns a client for namespace authenticated by cred
// (for example the Function App's managed identity, which needs the "Azure
// Service Bus Data Sender" role). namespace is the fully qualified host name
// ("privops.servicebus.windows.net"); a bare name ("privops") is completed
// with the public cloud's suffix. The client connects lazily; the caller
// closes it after the Publisher.
func NewClientWithCredential(namespace string, cred azcore.TokenCredential) (*azservicebus.Client, error) {
	if namespace == "" {
		return nil, errors.New("service bus client: the namespace is empty")
	}
	if cred == nil {
		return nil, errors.New("service bus client: the credential is nil")
	}
	c, err := azservicebus.NewClient(fullyQualified(namespace), cred, nil)
	if err != nil {
		return nil, fmt.Errorf("service bus client for %s: %w", namespace, err)
	}
	return c, nil
}

// fullyQualified completes a bare namespace name with the public cloud suffix
// and strips a scheme or trailing slash pasted from the portal.
func fullyQualified(namespace string) string {
	ns := strings.TrimSuffix(strings.TrimPrefix(namespace, "sb://"), "/")
	if !strings.Contains(ns, ".") {
		ns += publicCloudSuffix
	}
	return ns
}
