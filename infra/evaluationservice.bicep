// The evaluation service: consumes evaluate-model and writes a run's evaluation artefacts. Scaled by KEDA on that
// queue (management API, so the message being evaluated, unacknowledged until done, keeps its replica alive); idle
// it scales to zero. No ingress: only the probes reach port 8080. Deployed by `azd deploy evaluationservice` with
// the image just pushed (infra/<service>.bicep + .parameters.json).
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

@description('Replicas when the queue is empty; 0 scales to zero and costs nothing while idle.')
@minValue(0)
param minReplicas int = 0

@description('Most replicas KEDA may run.')
@minValue(1)
param maxReplicas int = 1

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

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: 'evaluation-service'
  location: location
  tags: {
    'azd-env-name': environmentName
    'azd-service-name': 'evaluationservice'
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'Consumption'
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
        {
          name: 'rabbitmq-management'
          value: 'http://${uriComponent(rabbitMqUserName)}:${uriComponent(brokerPassword)}@${rabbitMqAppName}:15672/'
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'evaluation-service'
          image: imageName
          resources: {
            cpu: json('2.0')
            memory: '4Gi'
          }
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
              value: 'evaluation-service'
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
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'evaluate-model-length'
            custom: {
              type: 'rabbitmq'
              metadata: {
                protocol: 'http'
                mode: 'QueueLength'
                queueName: 'evaluate-model'
                value: '1'
                vhostName: '/'
              }
              auth: [
                {
                  secretRef: 'rabbitmq-management'
                  triggerParameter: 'host'
                }
              ]
            }
          }
        ]
      }
    }
  }
}

output SERVICE_EVALUATIONSERVICE_NAME string = app.name
