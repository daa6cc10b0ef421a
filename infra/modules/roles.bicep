// Role assignments that let the Function App's identity reach everything with
// Entra ID and no keys (the Cosmos DB data-plane role is in cosmos.bicep):
//
//   storage account  Storage Blob Data Owner         host storage (AzureWebJobsStorage__accountName
//                                                    needs Owner), the deployment container, the
//                                                    exports container (BLOB_ACCOUNT_URL)
//   namespace        Azure Service Bus Data Sender   the publisher (SERVICEBUS_NAMESPACE): the
//                                                    suite's queues and the queues of tenants'
//                                                    Service Bus connectors in this namespace
//   each trigger     Azure Service Bus Data Owner    the serviceBusTrigger receives, and the scale
//   queue                                            controller reads the queue length (Manage
//                                                    claim) to scale a Flex app out from zero
//   vault            Key Vault Secrets User          the Key Vault references (SECRET_KEY,
//                                                    SMTP_PASSWORD)
//   App Insights     Monitoring Metrics Publisher    telemetry with Authorization=AAD
//
// and, when operatorPrincipalId is given, Key Vault Secrets Officer on the
// vault for the operator who sets SECRET_KEY once (infra/README.md).

@description('Object id of the Function App\'s system-assigned identity.')
param principalId string

@description('Object id of the operator (user or group) allowed to write the vault\'s secrets; empty: none.')
param operatorPrincipalId string = ''

@description('User, Group or ServicePrincipal: the kind of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

param storageAccountName string
param serviceBusNamespaceName string

@description('Queues the app\'s serviceBusTrigger functions receive from.')
param triggerQueueNames array

param keyVaultName string
param appInsightsName string

// Built-in role definition ids (the same in every tenant).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource triggerQueues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [
  for queueName in triggerQueueNames: {
    parent: namespace
    name: queueName
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource busSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, principalId, roleIds.serviceBusDataSender)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for i in range(0, length(triggerQueueNames)): {
    name: guid(triggerQueues[i].id, principalId, roleIds.serviceBusDataOwner)
    scope: triggerQueues[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataOwner)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}
