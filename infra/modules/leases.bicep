// The lease container of the Functions host's Cosmos DB change-feed trigger
// (the outbox function's cosmosDBTrigger on the requests container; its
// function.json names the container and sets createLeaseContainerIfNotExists
// false, because the app's data-plane role cannot create containers). It holds
// the host's checkpoints, no documents of the suite, which is why it lives here
// and not in cosmos.bicep, whose test pins the store's own containers. The
// extension (4.x) requires the lease container to be partitioned by /id.
// functions/infra_test.go checks that every leaseContainerName a function.json
// names is declared here.

@description('Cosmos DB account name (created by cosmos.bicep).')
param accountName string

@description('Database id (COSMOS_DATABASE).')
param databaseName string

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' existing = {
  name: accountName
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' existing = {
  parent: account
  name: databaseName
}

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

output name string = leases.name
