// Production environment. Deploy with
//   az deployment group create -g <group> -f infra/main.bicep -p infra/params/prod.bicepparam
// (infra/README.md, step by step). Values marked CHANGE are yours to set
// before the first deployment.
using '../main.bicep'

param environmentName = 'prod'

// The operator who sets SECRET_KEY in the vault (README: export
// PRIVOPS_OPERATOR_ID=$(az ad signed-in-user show --query id -o tsv));
// a group object id with operatorPrincipalType = 'Group' fits a team.
param operatorPrincipalId = readEnvironmentVariable('PRIVOPS_OPERATOR_ID', '')

// Sizing. Rate limits are per instance, so maximumInstanceCount also bounds
// the portal's effective limits.
param instanceMemoryMB = 2048
param maximumInstanceCount = 100
param cosmosThroughputMode = 'serverless'
param storageSku = 'Standard_ZRS'
param logRetentionDays = 90

// 30 days (the longest export link a tenant can set) plus 7.
param exportRetentionDays = 37

// SECRET_KEY must outlive any mistake: a deleted vault or secret stays
// recoverable for 90 days.
param keyVaultPurgeProtection = true

// Admin API tokens: the client id (a GUID) of the API app registration, which
// is what a v2 access token names in aud (infra/README.md, step 4). CHANGE.
param authAudience = 'api://privops'

// Which claims name the privops tenant and carry the roles: a directory
// extension set on each tenant admin by the operator, and the app roles
// (infra/README.md, Identity). The operator's own staff carry no tenant claim.
param authTenantClaim = 'extn.privopsTenant'
param authRolesClaim = 'roles'
param authOperatorTenant = ''

// The privacy center and this app's public address. CHANGE when you have them.
param portalBaseUrl = ''
param publicUrl = ''

// Mail through your relay; the password goes to the vault secret
// smtp-password (README step 6). CHANGE.
param mailBackend = 'smtp'
param mailFrom = 'privacy@example.com'
param smtpHost = 'smtp.example.com'
param smtpPort = 587
param smtpUsername = 'privops'
param smtpTls = 'mandatory'

param outboxDispatch = 'inline'
param logLevel = 'info'
