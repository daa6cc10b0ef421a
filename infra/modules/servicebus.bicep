// Service Bus: the namespace (Standard: duplicate detection needs Standard or
// Premium; Entra ID only, SAS keys refused) and one queue per name in
// queueNames, all alike. The queue settings follow shared/servicebus (doc.go):
//   - duplicate detection on, with a window of hours: every message id is the
//     outbox event id, and the hourly deadline watch may publish the same id
//     again after a crash; the broker then drops the copy.
//   - not partitioned and no sessions: with duplicate detection, a partitioned
//     entity keys on the message id, which does not mix with batches.
//   - lockDuration 1 minute: the Functions host renews the lock while the
//     handler runs (host.json maxAutoLockRenewalDuration, equal to
//     functionTimeout); a crashed instance's message is visible again a minute
//     later.
//   - maxDeliveryCount 10: only transient failures are returned to the broker
//     (permanent ones are recorded and acknowledged), so ten deliveries ride
//     out an outage of a dependency before the message is dead-lettered.
//   - expired messages are dead-lettered, not dropped. Messages carry ids
//     only, and the hourly watch re-drives from the store, so nothing is lost
//     either way; the dead-letter queue shows what never ran.
// functions/infra_test.go checks these values and that every queue a
// function.json names is in queueNames.

@description('Namespace name (6 to 50 characters, globally unique).')
@minLength(6)
@maxLength(50)
param name string

param location string
param tags object = {}

@description('Queues to create.')
param queueNames array

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for queueName in queueNames: {
    parent: namespace
    name: queueName
    properties: {
      lockDuration: 'PT1M'
      maxDeliveryCount: 10
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT6H'
      deadLetteringOnMessageExpiration: true
      defaultMessageTimeToLive: 'P14D'
      requiresSession: false
      enablePartitioning: false
      enableBatchedOperations: true
      maxSizeInMegabytes: 1024
    }
  }
]

output name string = namespace.name

@description('<name>.servicebus.windows.net (SERVICEBUS_NAMESPACE, ServiceBusConnection__fullyQualifiedNamespace).')
output fullyQualifiedNamespace string = replace(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':443/', '')
