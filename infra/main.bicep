// privops on Azure, one resource group per environment: the Function App on
// Flex Consumption (custom handler, system-assigned identity), the Cosmos DB
// store (cosmos.bicep) and the lease container of its change-feed trigger,
// the Service Bus queues, the storage account (host storage, deployment
// package, export packages with their lifecycle rule), Key Vault for the
// secrets, Log Analytics with Application Insights, and the role assignments
// that let the app's identity reach all of them without a key.
//
// The app settings at the end are the contract with the code:
// functions/infra_test.go checks that every setting shared/config reads is
// set here or named in its allow-list with the reason, that every %SETTING%
// and connection a function.json names resolves, and that the queue and
// container names match the code's defaults. Nothing here is compiled in CI
// (no Bicep compiler installs offline): `bicep build` locally, or the first
// `az deployment group create`, is the syntax check. See infra/README.md.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------- naming

@description('Lower-case letters and digits the resource names start with.')
@minLength(3)
@maxLength(8)
param appName string = 'privops'

@description('Environment, part of every name: dev, test or prod.')
@allowed([
  'dev'
  'test'
  'prod'
])
param environmentName string

@description('Region of every resource (one where Flex Consumption runs: az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

param tags object = {
  app: 'privops'
  environment: environmentName
}

// ---------------------------------------------------------------- sizing

@description('Memory of each Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most Function App instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Cosmos DB: serverless (pay per request unit) or autoscale (shared database throughput).')
@allowed([
  'serverless'
  'autoscale'
])
param cosmosThroughputMode string = 'serverless'

@description('Cosmos DB autoscale ceiling in RU/s (autoscale only).')
param cosmosAutoscaleMaxThroughput int = 1000

@description('Storage replication.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_LRS'

@description('Days an export package (and every other blob in the exports container) is kept after its last write: the longest download link a tenant can set (30 days) plus a margin.')
@minValue(31)
param exportRetentionDays int = 37

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Key Vault purge protection (cannot be turned off once on). Off only for throwaway environments.')
param keyVaultPurgeProtection bool = true

@description('Object id of the operator who sets the vault\'s secrets (Key Vault Secrets Officer); empty: grant nobody.')
param operatorPrincipalId string = ''

@description('User, Group or ServicePrincipal: the kind of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

// ---------------------------------------------------------------- app configuration

@description('Entra ID tenant that issues the admin API\'s tokens (default: this subscription\'s tenant).')
param entraTenantId string = tenant().tenantId

@description('AUTH_AUDIENCE: the admin API app registration as tokens name it in aud (its client id for v2 tokens, its Application ID URI for v1).')
param authAudience string

@description('AUTH_JWKS_URL; empty: the Entra ID v2 keys of entraTenantId.')
param authJwksUrl string = ''

@description('AUTH_ISSUER; empty: the Entra ID v2 issuer of entraTenantId.')
param authIssuer string = ''

@description('AUTH_TENANT_CLAIM: the access-token claim naming the privops tenant; "tid" (the directory) serves one privops tenant per directory; "extn.privopsTenant" reads a directory extension (infra/README.md, Identity).')
param authTenantClaim string = 'tid'

@description('AUTH_ROLES_CLAIM: the access-token claim carrying the roles; Entra ID app roles arrive in "roles".')
param authRolesClaim string = 'roles'

@description('AUTH_OPERATOR_TENANT: the tenant-claim value of the operator\'s own staff (operator tokens); empty: only a token without the tenant claim is one. No privops tenant may have this id.')
param authOperatorTenant string = ''

@description('PUBLIC_URL (download links, webhook callbacks); empty: https:// and the app\'s default host name. Set it with a custom domain.')
param publicUrl string = ''

@description('PORTAL_BASE_URL: the privacy page linked in mails; empty: the built-in privacy center (PUBLIC_URL/api/center/<tenant>/).')
param portalBaseUrl string = ''

@description('CONSOLE_OIDC_CLIENT_ID: the admin console\'s app registration (a single-page application, redirect URI <PUBLIC_URL>/api/console/); empty: the console signs in by pasting a token.')
param consoleClientId string = ''

@description('CONSOLE_OIDC_SCOPE; empty: openid and the admin API\'s default scope (AUTH_AUDIENCE/.default).')
param consoleScope string = ''

@description('MAIL_BACKEND: smtp, or outbox (mail written to the instance\'s temporary disk and lost: dev only, codes never reach anyone).')
@allowed([
  'smtp'
  'outbox'
])
param mailBackend string = 'smtp'

@description('MAIL_FROM: the sender address.')
param mailFrom string

@description('SMTP_HOST (MAIL_BACKEND=smtp).')
param smtpHost string = ''

@description('SMTP_PORT.')
param smtpPort int = 587

@description('SMTP_USERNAME; when set, SMTP_PASSWORD comes from the vault secret smtp-password.')
param smtpUsername string = ''

@description('SMTP_TLS.')
@allowed([
  'mandatory'
  'opportunistic'
  'none'
])
param smtpTls string = 'mandatory'

@description('OUTBOX_DISPATCH: inline (the writer carries out a request\'s outbox) or changefeed (the outbox function, fed by the requests container\'s change feed). With inline the outbox function is disabled.')
@allowed([
  'inline'
  'changefeed'
])
param outboxDispatch string = 'inline'

@description('LOG_LEVEL.')
@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP/HTTP base URL of an OpenTelemetry Collector that receives privops\' traces and metrics (for example one that forwards to Azure Monitor\'s OTLP ingestion). Empty: OpenTelemetry is off; Application Insights keeps the Functions host\'s own telemetry either way.')
param otelEndpoint string = ''

@description('OTEL_SERVICE_NAME: the service.name of privops\' spans and metrics.')
param otelServiceName string = 'privops'

// ---------------------------------------------------------------- names and code contracts

var token = take(uniqueString(subscription().id, resourceGroup().id, appName, environmentName), 6)
var baseName = '${appName}-${environmentName}-${token}'
var functionAppName = baseName
var storageAccountName = take(toLower('st${appName}${environmentName}${token}'), 24)
var keyVaultName = take('kv-${baseName}', 24)

// Names the code knows: each equals the default of its setting in
// shared/config (functions/infra_test.go compares them).
var noticesQueue = 'privops-notices' // NOTICES_QUEUE, the notify function's queue
var tasksQueue = 'privops-tasks' // TASKS_QUEUE, the tasks function's queue
var inboundQueue = 'privops-inbound' // INBOUND_QUEUE, the inbound function's queue (tenants' systems send here)
var exportsContainer = 'privops-exports' // BLOB_CONTAINER
var cosmosDatabase = 'privops' // COSMOS_DATABASE, cosmos.bicep's databaseName
var deadlineWatchSchedule = '0 5 * * * *' // DEADLINE_WATCH_SCHEDULE, NCRONTAB in UTC
var retentionQueue = 'privops-retention' // RETENTION_QUEUE, the retentionjob function's queue (one job per tenant and night)
var retentionSchedule = '0 0 2 * * *' // RETENTION_SCHEDULE, NCRONTAB in UTC (nightly, 02:00)
var breachSendQueue = 'privops-breachsend' // BREACH_SEND_QUEUE, the breachsend function's queue (the breach lane: plans, batches, purges)
var deploymentContainer = 'app-package'

// The binary opens its embedded SQLite file and the outbox mail folder under
// DATA_DIR even on Azure; the package is mounted read-only, /tmp is writable
// (per instance, not kept).
var dataDir = '/tmp/privops'

var loginEndpoint = environment().authentication.loginEndpoint
var secretKeySecretName = 'secret-key'
var smtpPasswordSecretName = 'smtp-password'

// ---------------------------------------------------------------- resources

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: 'log-${baseName}'
    appInsightsName: 'appi-${baseName}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: storageAccountName
    location: location
    tags: tags
    sku: storageSku
    deploymentContainerName: deploymentContainer
    exportsContainerName: exportsContainer
    exportRetentionDays: exportRetentionDays
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: 'sb-${baseName}'
    location: location
    tags: tags
    queueNames: [
      noticesQueue
      tasksQueue
      inboundQueue
      retentionQueue
      breachSendQueue
    ]
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: keyVaultName
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: functionAppName
    planName: 'plan-${baseName}'
    location: location
    tags: tags
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
}

// The store: account, database, containers, and the data-plane role of the
// app's identity (cosmos.bicep is also deployable on its own).
module cosmos 'cosmos.bicep' = {
  name: 'cosmos'
  params: {
    accountName: 'cosmos-${baseName}'
    location: location
    databaseName: cosmosDatabase
    throughputMode: cosmosThroughputMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    dataPrincipalId: functionApp.outputs.principalId
    disableKeyAuth: true
  }
}

module leases 'modules/leases.bicep' = {
  name: 'cosmos-leases'
  params: {
    accountName: 'cosmos-${baseName}'
    databaseName: cosmos.outputs.database
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: functionApp.outputs.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    triggerQueueNames: [
      noticesQueue
      tasksQueue
      inboundQueue
      retentionQueue
      breachSendQueue
    ]
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

// ---------------------------------------------------------------- app settings

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// Key Vault references: resolved by the platform with the app's identity; a
// secret set after this deployment is picked up at the next restart.
var secretKeyReference = '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/${secretKeySecretName}/)'
var smtpPasswordReference = empty(smtpUsername) ? '' : '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/${smtpPasswordSecretName}/)'

// The complete app settings (this resource replaces the whole set). One
// setting per line: functions/infra_test.go reads them. Settings of
// shared/config that are absent are in that test's allow-list, each with its
// reason: standalone-only, key-based alternatives the resources refuse, and
// tuning knobs whose config default applies (README Configuration table).
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  dependsOn: [
    functionApp
    roles
    leases
  ]
  properties: {
    // The Functions host, all with the app's identity.
    AzureWebJobsStorage__accountName: storage.outputs.name
    APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
    ServiceBusConnection__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    CosmosDbConnection__accountEndpoint: cosmos.outputs.endpoint
    'AzureWebJobs.outbox.Disabled': outboxDispatch == 'changefeed' ? 'false' : 'true'

    // privops (shared/config).
    DATA_DIR: dataDir
    STORE_BACKEND: 'cosmos'
    COSMOS_ENDPOINT: cosmos.outputs.endpoint
    COSMOS_DATABASE: cosmosDatabase
    COSMOS_AUTH: 'identity'
    QUEUE_BACKEND: 'servicebus'
    SERVICEBUS_NAMESPACE: serviceBus.outputs.fullyQualifiedNamespace
    NOTICES_QUEUE: noticesQueue
    TASKS_QUEUE: tasksQueue
    TASK_CALLBACK_TIMEOUT: '24h' // a task whose service answered 202 is called again after this without an answer
    UNVERIFIED_EXPIRY: '168h' // a request whose code was never entered is cancelled and stripped after this
    CLARIFICATION_WAIT: '720h' // a clock paused for a clarification nobody answered runs again after this
    DEADLINE_DIGEST_HOUR: '8' // tenant-local hour of the daily digest of due requests to the privacy contact; -1: none
    INBOUND_QUEUE: inboundQueue
    DEADLINE_WATCH_SCHEDULE: deadlineWatchSchedule
    RETENTION_QUEUE: retentionQueue
    RETENTION_SCHEDULE: retentionSchedule
    RETENTION_SERVICE_ANSWER_WAIT: '6h' // how long a run waits for a Service Bus service's answer to a purge command (1m-20h), then reports it no-answer
    OFFBOARD_NOTICE: '720h' // 30 days between an operator's offboarding request and the purge of the tenant (1s-4320h)
    BREACH_SEND_QUEUE: breachSendQueue
    OUTBOX_DISPATCH: outboxDispatch
    BLOB_BACKEND: 'azure'
    BLOB_ACCOUNT_URL: storage.outputs.blobEndpoint
    BLOB_CONTAINER: exportsContainer
    SECRET_KEY: secretKeyReference
    AUTH_MODE: 'jwks'
    AUTH_JWKS_URL: empty(authJwksUrl) ? '${loginEndpoint}${entraTenantId}/discovery/v2.0/keys' : authJwksUrl
    AUTH_ISSUER: empty(authIssuer) ? '${loginEndpoint}${entraTenantId}/v2.0' : authIssuer
    AUTH_AUDIENCE: authAudience
    AUTH_TENANT_CLAIM: authTenantClaim
    AUTH_ROLES_CLAIM: authRolesClaim
    AUTH_OPERATOR_TENANT: authOperatorTenant
    PUBLIC_URL: empty(publicUrl) ? 'https://${functionApp.outputs.defaultHostName}' : publicUrl
    PORTAL_BASE_URL: portalBaseUrl
    CONSOLE_OIDC_ISSUER: empty(consoleClientId) ? '' : (empty(authIssuer) ? '${loginEndpoint}${entraTenantId}/v2.0' : authIssuer)
    CONSOLE_OIDC_CLIENT_ID: consoleClientId
    CONSOLE_OIDC_SCOPE: empty(consoleScope) ? 'openid ${authAudience}/.default' : consoleScope
    MAIL_BACKEND: mailBackend
    MAIL_FROM: mailFrom
    SMTP_HOST: smtpHost
    SMTP_PORT: string(smtpPort)
    SMTP_USERNAME: smtpUsername
    SMTP_PASSWORD: smtpPasswordReference
    SMTP_TLS: smtpTls
    TRUST_FORWARDED_FOR: 'true'
    LOG_LEVEL: logLevel
    OTEL_EXPORTER_OTLP_ENDPOINT: otelEndpoint
    OTEL_SERVICE_NAME: otelServiceName
  }
}

// ---------------------------------------------------------------- outputs

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'
output keyVaultName string = keyVault.outputs.name
output storageAccountName string = storage.outputs.name
output serviceBusNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output cosmosEndpoint string = cosmos.outputs.endpoint
output appInsightsName string = monitoring.outputs.appInsightsName
