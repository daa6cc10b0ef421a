// Development environment: small, cheap to throw away. Deploy with
//   az deployment group create -g <group> -f infra/main.bicep -p infra/params/dev.bicepparam
// (infra/README.md, step by step). Values marked CHANGE are yours to set.
using '../main.bicep'

param environmentName = 'dev'

// The operator who sets SECRET_KEY in the vault (README: export
// PRIVOPS_OPERATOR_ID=$(az ad signed-in-user show --query id -o tsv)).
param operatorPrincipalId = readEnvironmentVariable('PRIVOPS_OPERATOR_ID', '')

// Sizing.
param instanceMemoryMB = 2048
param maximumInstanceCount = 40
param cosmosThroughputMode = 'serverless'
param storageSku = 'Standard_LRS'
param logRetentionDays = 30
param exportRetentionDays = 37

// A dev vault may be purged when the environment is thrown away.
param keyVaultPurgeProtection = false

// Admin API tokens: the client id (a GUID) of the API app registration, which
// is what a v2 access token names in aud (infra/README.md, step 4). CHANGE.
param authAudience = 'api://privops-dev'

// Which claims name the privops tenant and carry the roles: a directory
// extension set on each tenant admin by the operator, and the app roles
// (infra/README.md, Identity). The operator's own staff carry no tenant claim.
param authTenantClaim = 'extn.privopsTenant'
param authRolesClaim = 'roles'
param authOperatorTenant = ''

// Mail: the outbox backend writes mail to the instance's temporary disk,
// where nobody reads it; set mailBackend = 'smtp' and smtpHost (and
// smtpUsername with the vault secret smtp-password) to receive the codes.
param mailBackend = 'outbox'
param mailFrom = 'privacy@dev.privops.invalid'

param outboxDispatch = 'inline'
param logLevel = 'debug'
