// Cosmos DB for the privops store (shared/cosmos): the account, the database
// and its four containers, each partitioned by tenant, the change feed's
// lease container, and the data-plane role
// of the Function App's identity. A test (shared/cosmos/infra_test.go) checks
// that every container name, partition key path, indexed path and TTL the code
// uses is declared here, and nothing else besides the leases.
//
// Throughput: serverless by default. DSR traffic is low and bursty (a few
// state changes per request, hourly and nightly timers), and serverless bills
// only the request units consumed plus storage, with no floor; see the README's
// Operations section for what one request costs. Serverless is single-region
// and caps each physical partition's burst; for sustained load or a second
// region, deploy with throughputMode 'autoscale', which gives the database
// shared autoscale throughput up to autoscaleMaxThroughput RU/s.

@description('Name of the Cosmos DB account (globally unique, lower case).')
param accountName string

@description('Region of the account.')
param location string = resourceGroup().location

@description('Database id; the app reads it from COSMOS_DATABASE.')
param databaseName string = 'privops'

@description('serverless (billed per request unit) or autoscale (shared database throughput).')
@allowed([
  'serverless'
  'autoscale'
])
param throughputMode string = 'serverless'

@description('Upper bound of the database throughput with throughputMode autoscale (RU/s, steps of 1000).')
param autoscaleMaxThroughput int = 1000

@description('Object id of the identity that runs the app (the Function App\'s managed identity); empty: no role assignment.')
param dataPrincipalId string = ''

@description('Refuse account keys, so only Entra ID identities reach the data (COSMOS_AUTH=identity).')
param disableKeyAuth bool = true

var serverless = throughputMode == 'serverless'

// Only the paths the queries filter or sort on are indexed; the root '/*' is
// excluded, so the large payload paths (/subject/*, /changes/*, /outbox/*,
// /notices/*, /verification/* of a request; /last/* and /event/* of the audit)
// cost nothing to index and writes stay cheap.
var excludeTheRest = [
  {
    path: '/*'
  }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: accountName
  location: location
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    // Session: a client reads its own writes; the store chains session tokens
    // where a read must be as fresh as another (the audit append) and guards
    // every update with the document's ETag.
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: serverless ? [
      {
        name: 'EnableServerless'
      }
    ] : []
    disableLocalAuth: disableKeyAuth
    disableKeyBasedMetadataWriteAccess: true
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: serverless ? {} : {
      autoscaleSettings: {
        maxThroughput: autoscaleMaxThroughput
      }
    }
  }
}

// tenants: one document per tenant (id = tenantId). TTL off: tenants never expire.
resource tenants 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'tenants'
  properties: {
    resource: {
      id: 'tenants'
      partitionKey: {
        paths: [
          '/tenantId'
        ]
        kind: 'Hash'
        version: 2
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/tenantId/?'
          }
          {
            path: '/docType/?'
          }
        ]
        excludedPaths: excludeTheRest
      }
    }
  }
}

// requests: one document per request (a request and its tasks are one
// document: one ETag-guarded write per state change). TTL on with no default
// (-1): nothing expires unless a document carries its own ttl, which the
// retention sweep can set once a finished request's keeping period ends.
resource requests 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'requests'
  properties: {
    resource: {
      id: 'requests'
      partitionKey: {
        paths: [
          '/tenantId'
        ]
        kind: 'Hash'
        version: 2
      }
      defaultTtl: -1
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/tenantId/?'
          }
          {
            path: '/docType/?'
          }
          {
            path: '/status/?'
          }
          {
            path: '/type/?'
          }
          {
            path: '/listKey/?'
          }
          {
            path: '/outboxSince/?'
          }
          {
            path: '/openDueAt/?'
          }
        ]
        excludedPaths: excludeTheRest
      }
    }
  }
}

// audit: the per-tenant chain, one document per event plus the head. TTL off:
// the audit trail outlives erasure (GDPR Art. 5(2) accountability).
resource audit 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'audit'
  properties: {
    resource: {
      id: 'audit'
      partitionKey: {
        paths: [
          '/tenantId'
        ]
        kind: 'Hash'
        version: 2
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/tenantId/?'
          }
          {
            path: '/docType/?'
          }
          {
            path: '/seq/?'
          }
        ]
        excludedPaths: excludeTheRest
      }
    }
  }
}

// breachsend: the breach subject fan-out (shared/cosmos/breachsend.go):
// campaigns, their counters, recipient lists (personal data, deleted by the
// fan-out once its keeping period ends), the delivery ledger, staged lists and
// batch claims. TTL off: the fan-out purges its lists itself, and audits it.
resource breachsend 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'breachsend'
  properties: {
    resource: {
      id: 'breachsend'
      partitionKey: {
        paths: [
          '/tenantId'
        ]
        kind: 'Hash'
        version: 2
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/tenantId/?'
          }
          {
            path: '/docType/?'
          }
          {
            path: '/incidentId/?'
          }
          {
            path: '/listId/?'
          }
          {
            path: '/seq/?'
          }
          {
            path: '/purgeAt/?'
          }
        ]
        excludedPaths: excludeTheRest
      }
    }
  }
}

// leases: the change feed's checkpoints for the outbox function's
// cosmosDBTrigger (OUTBOX_DISPATCH=changefeed). The Functions extension
// requires partition key /id; declared here because an identity with data-plane
// roles only cannot create it (createLeaseContainerIfNotExists is false).
resource leases 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: 'leases'
  properties: {
    resource: {
      id: 'leases'
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
        version: 2
      }
    }
  }
}

// Tenant data containers (not declared here, on purpose): a service of kind
// cosmos names a container in this database that the built-in connector
// queries, exports and erases by identity path (shared/cosmos/items.go). Such
// a container is the tenant application's own, created and sized with that
// application, and partitioned by /tenantId like the containers above; the
// suite never creates one. The Function App's identity needs data-plane access
// to them (query, upsert and delete items): the role assignment below is scoped
// to the whole account, which covers them; narrowing it to the four
// containers above would cut the connector off.

// The app's identity gets the built-in Cosmos DB Built-in Data Contributor
// role (read and write items; no account or container management).
resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = if (!empty(dataPrincipalId)) {
  parent: account
  name: guid(account.id, dataPrincipalId, '00000000-0000-0000-0000-000000000002')
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'
    principalId: dataPrincipalId
    scope: account.id
  }
}

@description('COSMOS_ENDPOINT for the app.')
output endpoint string = account.properties.documentEndpoint

@description('COSMOS_DATABASE for the app.')
output database string = database.name
