// Key Vault (RBAC mode) for the app's secrets: SECRET_KEY (secret
// "secret-key") and, with an SMTP login, SMTP_PASSWORD (secret
// "smtp-password"). The app reads them through Key Vault references in its
// app settings, with its identity (Key Vault Secrets User, see roles.bicep).
// The template never writes a secret value: SECRET_KEY must never change once
// the audit refers to subjects by its keyed hash, so a redeploy must not be
// able to replace it. The operator sets it once (infra/README.md). Soft delete
// with purge protection keeps a deleted vault or secret recoverable, because
// losing SECRET_KEY makes every audit subject hash unmatchable.

@description('Vault name (3 to 24 letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Purge protection: a deleted vault or secret cannot be purged before its retention ends. Cannot be turned off again; leave it on except in throwaway environments.')
param purgeProtection bool = true

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // The API refuses an explicit false: the property is true or absent.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name

@description('https://<name>.vault.azure.net/ (with the trailing slash).')
output vaultUri string = vault.properties.vaultUri
