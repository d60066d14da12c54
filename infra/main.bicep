// CremaD on Azure Container Apps: what `azd provision` creates. The shared infrastructure (identity, registry, logs,
// environment, storage, RabbitMQ) is here; the four service apps are defined per service in <service>.bicep next to
// this file and are deployed by `azd deploy` together with their freshly built image (azd's revision-based
// strategy), so no app ever starts from a placeholder image that would fail its /alive and /health probes.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region of every resource. With enableGpu, pick one offering serverless GPUs (README).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the deploying user (azd sets it); gets blob read/write so datasets can be uploaded. Empty: none.')
param principalId string = ''

@secure()
@minLength(16)
@description('Password of the RabbitMQ user the services connect as. azd generates and keeps one per environment.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 32
      noSpecial: true
    }
  }
})
param rabbitMqPassword string

@description('Add a serverless GPU workload profile to the environment and run the trainer on it.')
param enableGpu bool = false

@description('Serverless GPU profile type used when enableGpu is true.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('OTLP endpoint the services export logs, metrics and traces to (OTEL_EXPORTER_OTLP_ENDPOINT). Empty: no export.')
param otlpEndpoint string = ''

@description('Blob container the services keep datasets, feature stores and runs in.')
param blobContainerName string = 'cremad'

@description('Open the runs API\'s ingress to the internet; false keeps it reachable only from inside the environment. The API key guards it either way.')
param runsApiExternal bool = false

var tags = {
  'azd-env-name': environmentName
}

// Globally unique names (registry, storage) get a suffix stable for this subscription, environment and region.
var token = toLower(uniqueString(subscription().id, environmentName, location))
var rabbitMqAppName = 'rabbitmq'
var rabbitMqUserName = 'cremad'
var runsApiAppName = 'runs-api'

resource resourceGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: resourceGroup
  params: {
    name: 'id-cremad-${token}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: resourceGroup
  params: {
    name: 'log-cremad-${token}'
    location: location
    tags: tags
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: resourceGroup
  params: {
    name: 'crcremad${token}'
    location: location
    tags: tags
    pullPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: resourceGroup
  params: {
    name: 'stcremad${token}'
    location: location
    tags: tags
    containerName: blobContainerName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module environment 'modules/container-apps-environment.bicep' = {
  name: 'container-apps-environment'
  scope: resourceGroup
  params: {
    name: 'cae-cremad-${token}'
    location: location
    tags: tags
    logAnalyticsWorkspaceName: monitoring.outputs.name
    gpuProfileType: enableGpu ? gpuProfileType : ''
  }
}

module rabbitMq 'modules/rabbitmq.bicep' = {
  name: 'rabbitmq'
  scope: resourceGroup
  params: {
    name: rabbitMqAppName
    location: location
    tags: tags
    environmentId: environment.outputs.id
    userName: rabbitMqUserName
    password: rabbitMqPassword
  }
}

// Read by azd (registry, resource group) and by the service templates' parameter files (everything else).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = environment.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_ID string = environment.outputs.id
output AZURE_CONTAINER_APPS_ENVIRONMENT_DEFAULT_DOMAIN string = environment.outputs.defaultDomain
output AZURE_CONTAINER_APPS_TRAINER_WORKLOAD_PROFILE string = environment.outputs.trainerWorkloadProfile
output AZURE_CONTAINER_APPS_GPU_PROFILE_TYPE string = enableGpu ? gpuProfileType : ''
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output CREMAD_BLOB_CONTAINER string = storage.outputs.containerName
output CREMAD_OTLP_ENDPOINT string = otlpEndpoint
output RABBITMQ_APP_NAME string = rabbitMq.outputs.name
output RABBITMQ_USER_NAME string = rabbitMqUserName
// The runs API's ingress FQDN is <app>.<default domain> when external and <app>.internal.<default domain> when internal.
// infra/runsapi.bicep reads RUNS_API_EXTERNAL (a string: azd passes service template parameters unconverted), so the
// app's ingress always matches RUNS_API_URL.
output RUNS_API_EXTERNAL string = runsApiExternal ? 'true' : 'false'
output RUNS_API_URL string = runsApiExternal
  ? 'https://${runsApiAppName}.${environment.outputs.defaultDomain}/'
  : 'https://${runsApiAppName}.internal.${environment.outputs.defaultDomain}/'
