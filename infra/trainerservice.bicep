// The trainer service: consumes train-model and trains in a background worker under a blob lease, with per-epoch
// checkpoints. On a GPU workload profile when provisioned with enableGpu (the app's only container gets the GPU).
// No ingress: only the probes reach port 8080. Deployed by `azd deploy trainerservice` with the image just pushed
// (infra/<service>.bicep + .parameters.json).
targetScope = 'resourceGroup'

@description('azd environment name (tag).')
param environmentName string

@description('Azure region.')
param location string = resourceGroup().location

@minLength(1)
@description('Image azd built and pushed for this service.')
param imageName string

@description('Name of the Container Apps environment (provision output).')
param containerAppsEnvironmentName string

@description('Login server of the container registry (provision output).')
param containerRegistryEndpoint string

@description('Name of the apps\' user-assigned identity (provision output).')
param managedIdentityName string

@description('Blob endpoint URI; the service authenticates with the managed identity.')
param storageBlobEndpoint string

@description('Blob container the services use.')
param blobContainer string

@description('Name of the RabbitMQ container app (its host name inside the environment).')
param rabbitMqAppName string

@description('RabbitMQ user the services connect as.')
param rabbitMqUserName string

@description('OTLP endpoint; empty: the service exports no telemetry.')
param otlpEndpoint string = ''

@description('Workload profile of the app: Consumption, or the GPU profile\'s name when provisioned with enableGpu.')
param workloadProfileName string = 'Consumption'

@description('Serverless GPU profile type of that profile, or empty on Consumption; sets the replica size.')
@allowed([
  ''
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string = ''

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' existing = {
  name: containerAppsEnvironmentName
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: managedIdentityName
}

resource broker 'Microsoft.App/containerApps@2024-03-01' existing = {
  name: rabbitMqAppName
}

// The broker password stays a secret of the broker app and is read from there, so it never passes through azd's
// environment file.
var brokerPassword = first(filter(broker.listSecrets().value, secret => secret.name == 'rabbitmq-password'))!.value

// Serverless GPU profiles give a replica the whole machine: NC8as-T4 is 8 vCPU / 56 GiB, NC24-A100 24 vCPU / 220 GiB.
var replicaSizes = {
  'Consumption-GPU-NC8as-T4': {
    cpu: json('8.0')
    memory: '56Gi'
  }
  'Consumption-GPU-NC24-A100': {
    cpu: json('24.0')
    memory: '220Gi'
  }
}
var profile = empty(workloadProfileName) ? 'Consumption' : workloadProfileName
var replicaSize = empty(gpuProfileType)
  ? {
      cpu: json('2.0')
      memory: '4Gi'
    }
  : replicaSizes[gpuProfileType]

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: 'trainer-service'
  location: location
  tags: {
    'azd-env-name': environmentName
    'azd-service-name': 'trainerservice'
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: profile
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [
        {
          server: containerRegistryEndpoint
          identity: identity.id
        }
      ]
      secrets: [
        {
          name: 'messaging-connection'
          value: 'amqp://${uriComponent(rabbitMqUserName)}:${uriComponent(brokerPassword)}@${rabbitMqAppName}:5672'
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'trainer-service'
          image: imageName
          resources: replicaSize
          env: [
            {
              name: 'AZURE_CLIENT_ID'
              value: identity.properties.clientId
            }
            {
              name: 'ConnectionStrings__blobs'
              value: storageBlobEndpoint
            }
            {
              name: 'ConnectionStrings__messaging'
              secretRef: 'messaging-connection'
            }
            {
              name: 'CremaD__BlobContainer'
              value: blobContainer
            }
            {
              name: 'OTEL_EXPORTER_OTLP_ENDPOINT'
              value: otlpEndpoint
            }
            {
              name: 'OTEL_SERVICE_NAME'
              value: 'trainer-service'
            }
            {
              name: 'ASPNETCORE_HTTP_PORTS'
              value: '8080'
            }
            {
              name: 'ASPNETCORE_ENVIRONMENT'
              value: 'Production'
            }
            {
              name: 'DOTNET_ENVIRONMENT'
              value: 'Production'
            }
          ]
          probes: [
            {
              type: 'Startup'
              httpGet: {
                path: '/alive'
                port: 8080
              }
              initialDelaySeconds: 5
              periodSeconds: 10
              timeoutSeconds: 5
              failureThreshold: 10
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/alive'
                port: 8080
              }
              periodSeconds: 15
              timeoutSeconds: 5
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/health'
                port: 8080
              }
              periodSeconds: 10
              timeoutSeconds: 5
              failureThreshold: 3
            }
          ]
        }
      ]
      // Always one replica: the train-model consumer only records a request and acks it at once; the worker that
      // trains runs in the background under a blob lease, so neither queue length nor requests tell when it may stop.
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output SERVICE_TRAINERSERVICE_NAME string = app.name
