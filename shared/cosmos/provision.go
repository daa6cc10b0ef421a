package cosmos

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// Provision creates the store's database and containers (see Containers) if
// they do not exist. It is for emulators, tests and development accounts used
// with key auth: in production infra/cosmos.bicep creates them, and an Entra ID
// identity with the data-plane role cannot create databases or containers.
func (s *Store) Provision(ctx context.Context) error {
	_, err := s.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: s.db.ID()}, nil)
	if err != nil && statusOf(err) != http.StatusConflict {
		return fmt.Errorf("provision database %s: %w", s.db.ID(), translate(err))
	}
	for _, c := range Containers {
		_, err := s.db.CreateContainer(ctx, c.properties(), nil)
		if err != nil && statusOf(err) != http.StatusConflict {
			return fmt.Errorf("provision container %s: %w", c.Name, translate(err))
		}
	}
	return nil
}

// properties are the container's settings as the SDK takes them: the same
// partition key, indexing policy and TTL that infra/cosmos.bicep declares.
func (c ContainerSpec) properties() azcosmos.ContainerProperties {
	ip := &azcosmos.IndexingPolicy{Automatic: true, IndexingMode: azcosmos.IndexingModeConsistent,
		ExcludedPaths: []azcosmos.ExcludedPath{{Path: "/*"}}}
	for _, p := range c.Indexed {
		ip.IncludedPaths = append(ip.IncludedPaths, azcosmos.IncludedPath{Path: p})
	}
	return azcosmos.ContainerProperties{ID: c.Name, DefaultTimeToLive: c.DefaultTTL, IndexingPolicy: ip,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{c.PartitionKey}}}
}

// EnsureDataContainer creates the tenant data container name (see items.go),
// partitioned by PartitionKeyPath with the default indexing policy, if it does
// not exist, and checks the partition key of one that does. It is for tests and
// development accounts used with key auth: in production a data container is
// the tenant application's own, and the store never creates one on a call.
func (s *Store) EnsureDataContainer(ctx context.Context, name string) error {
	if !validDataContainer(name) {
		return fmt.Errorf("ensure data container %q: not a data container name", name)
	}
	_, err := s.db.CreateContainer(ctx, azcosmos.ContainerProperties{ID: name,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{PartitionKeyPath}}}, nil)
	if err == nil {
		return nil
	}
	if statusOf(err) != http.StatusConflict {
		return fmt.Errorf("ensure data container %s: %w", name, translate(err))
	}
	c, err := s.db.NewContainer(name)
	if err != nil {
		return fmt.Errorf("ensure data container %s: %w", name, err)
	}
	resp, err := c.Read(ctx, nil)
	if err != nil {
		return fmt.Errorf("ensure data container %s: %w", name, translate(err))
	}
	if p := resp.ContainerProperties; p == nil || !slices.Equal(p.PartitionKeyDefinition.Paths, []string{PartitionKeyPath}) {
		return fmt.Errorf("ensure data container %s: it exists but is not partitioned by %s", name, PartitionKeyPath)
	}
	return nil
}
