// The one user-assigned identity every CremaD app runs as: it pulls images from the registry (AcrPull) and reads and
// writes blobs (Storage Blob Data Contributor). Apps set AZURE_CLIENT_ID to its client id so DefaultAzureCredential
// picks it instead of probing for a system identity.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
