// Storage: one account, reached with Entra ID only (shared keys refused), for
//   - the Functions host (AzureWebJobsStorage__accountName: timer locks, host keys),
//   - the Flex Consumption deployment container the zip package is published to,
//   - the exports container (BLOB_CONTAINER): export packages and the service
//     answers they are built from, under <tenant>/requests/<id>/.
// A lifecycle rule deletes what lies in the exports container once it is older
// than exportRetentionDays: the longest download link a tenant can configure
// (30 days, privacy.Tenant.Validate) plus a margin, so a link never outlives its
// package and no package outlives its link by much (GDPR Art. 5(1)(e), storage
// limitation). functions/infra_test.go derives that floor from the code.

@description('Storage account name (3 to 24 lower-case letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Replication. Export packages can be rebuilt from the services; LRS is enough for dev, ZRS survives a zone loss.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param sku string = 'Standard_LRS'

@description('Container the Flex Consumption app is deployed from.')
param deploymentContainerName string

@description('Container of the export packages (BLOB_CONTAINER).')
param exportsContainerName string

@description('Days after its last write that a blob in the exports container is deleted.')
@minValue(31)
param exportRetentionDays int

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: sku
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
  }
}

// No blob soft delete: a deleted export package must be gone, not kept
// recoverable for days.
resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource exportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: exportsContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-exports'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${exportsContainer.name}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: exportRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

output name string = account.name

@description('BLOB_ACCOUNT_URL for the app.')
output blobEndpoint string = account.properties.primaryEndpoints.blob

@description('The container URL functionAppConfig.deployment.storage points at.')
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'

output exportsContainerName string = exportsContainer.name
