-- Tenant data containers for the built-in cosmos connector when it runs on the
-- embedded store: JSON items per tenant and container, found by the value at
-- an identity path (json_extract), as the Cosmos DB containers are on Azure.
CREATE TABLE data_items (
    tenant_id TEXT NOT NULL,
    container TEXT NOT NULL,
    id        TEXT NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, container, id)
) STRICT, WITHOUT ROWID;
