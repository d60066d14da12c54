// Container Apps environment with workload profiles: the serverless Consumption profile every app runs on, plus, when
// asked for, a serverless GPU profile for the trainer (billed per second while a trainer replica exists).

@description('Name of the Container Apps environment.')
param name string

@description('Azure region (for GPU: one where serverless GPUs are offered).')
param location string

@description('Tags for the resource.')
param tags object

@description('Name of the Log Analytics workspace that receives the apps\' logs.')
param logAnalyticsWorkspaceName string

@description('Serverless GPU profile type to add, or empty for none.')
@allowed([
  ''
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string = ''

@description('Name the GPU workload profile gets in the environment (apps refer to it by this name).')
param gpuProfileName string = 'gpu'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsWorkspaceName
}

var consumptionProfile = {
  name: 'Consumption'
  workloadProfileType: 'Consumption'
}

var gpuProfiles = empty(gpuProfileType)
  ? []
  : [
      {
        name: gpuProfileName
        workloadProfileType: gpuProfileType
      }
    ]

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    workloadProfiles: concat([consumptionProfile], gpuProfiles)
  }
}

output id string = environment.id
output name string = environment.name
output defaultDomain string = environment.properties.defaultDomain
output trainerWorkloadProfile string = empty(gpuProfileType) ? consumptionProfile.name : gpuProfileName
