// The Function App on Flex Consumption (Linux only): a custom handler (the Go
// binary `handler`, see host.json) with a system-assigned identity, deployed
// from a blob container that the identity reads. App settings are not set
// here but in main.bicep's sites/config resource, after the resources they
// name exist and the identity holds its roles (the Cosmos role needs this
// identity first, and the settings need the Cosmos endpoint). A site update
// that leaves siteConfig.appSettings out keeps the settings that resource set.
//
// Flex takes the language from functionAppConfig.runtime, not from the
// FUNCTIONS_WORKER_RUNTIME or FUNCTIONS_EXTENSION_VERSION settings (which it
// refuses): name 'custom', version '1.0' is the custom handler stack.

@description('Function App name (globally unique: <name>.azurewebsites.net).')
param name string

@description('Flex Consumption plan name (one app per plan).')
param planName string

param location string
param tags object = {}

@description('URL of the blob container the deployment package is published to.')
param deploymentContainerUrl string

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to. Rate limits are per instance (README), so this also bounds them.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
}

output name string = site.name

@description('Object id of the system-assigned identity.')
output principalId string = site.identity.principalId

output defaultHostName string = site.properties.defaultHostName
