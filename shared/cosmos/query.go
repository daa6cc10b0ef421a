package cosmos

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// params builds query parameters from name, value pairs.
func params(nameValues ...any) []azcosmos.QueryParameter {
	out := make([]azcosmos.QueryParameter, 0, len(nameValues)/2)
	for i := 0; i+1 < len(nameValues); i += 2 {
		out = append(out, azcosmos.QueryParameter{Name: nameValues[i].(string), Value: nameValues[i+1]})
	}
	return out
}

// query runs sql and hands each result document to each, page after page,
// until the results end. crossPartition must be true for a query over every
// partition (pk is then the empty partition key); otherwise the query is
// confined to pk and Cosmos refuses to fan it out. session, when set, is the
// session token the query must be at least as fresh as. pageSize 0 lets the
// service choose.
func query(ctx context.Context, c *azcosmos.ContainerClient, pk azcosmos.PartitionKey, crossPartition bool,
	sql string, ps []azcosmos.QueryParameter, session *string, pageSize int32, each func([]byte) error) error {
	opts := &azcosmos.QueryOptions{QueryParameters: ps, EnableCrossPartitionQuery: &crossPartition,
		SessionToken: session, PageSizeHint: pageSize}
	pager := c.NewQueryItemsPager(sql, pk, opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return translate(err)
		}
		for _, raw := range page.Items {
			if err := each(raw); err != nil {
				return fmt.Errorf("decode query result: %w", err)
			}
		}
	}
	return nil
}
