// Monitoring: a Log Analytics workspace and the workspace-based Application
// Insights component the Functions host writes to. Local (key) ingestion is
// off: the app sends telemetry with its identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD and the
// Monitoring Metrics Publisher role, see roles.bicep). The suite logs events
// and counts, never personal data, so retention is an operations choice only.

@description('Log Analytics workspace name.')
param workspaceName string

@description('Application Insights component name.')
param appInsightsName string

param location string
param tags object = {}

@description('Days the workspace keeps logs (30 to 730).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output appInsightsName string = appInsights.name

@description('APPLICATIONINSIGHTS_CONNECTION_STRING (an ingestion address, not a credential: local auth is off).')
output connectionString string = appInsights.properties.ConnectionString
