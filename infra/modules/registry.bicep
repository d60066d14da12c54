// Container registry that azd pushes the service images to, with AcrPull for the apps' identity so no registry
// password exists anywhere (admin user off).

@description('Name of the container registry (5-50 letters and digits, globally unique).')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

@description('Principal id of the identity that pulls images.')
param pullPrincipalId string

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

// Built-in role "AcrPull" (7f951dda-4ed3-4680-a7ca-43fe172d538d).
resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, pullPrincipalId, '7f951dda-4ed3-4680-a7ca-43fe172d538d')
  properties: {
    principalId: pullPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
