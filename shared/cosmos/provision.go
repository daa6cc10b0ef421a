package cosmos

import (
	"context"
	"fmt"
	"net/http"

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
