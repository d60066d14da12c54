// Log Analytics workspace that receives the Container Apps environment's console and system logs.

@description('Name of the Log Analytics workspace.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

@description('Days logs are kept; 30 is the free retention of the PerGB2018 tier.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

output id string = workspace.id
output name string = workspace.name
