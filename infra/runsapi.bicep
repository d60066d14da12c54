// The runs API (POST/GET /runs, artifacts) and the run coordinator. `azd deploy runsapi` deploys this template with
// the image it has just pushed (azd's revision-based strategy: infra/<service>.bicep + .parameters.json), so the app
// is created with its real image, probes and settings in one revision. The only app with HTTP ingress: internal to the
// environment unless provisioned with runsApiExternal, and behind an API key either way (the service refuses to start
// without one). One replica at all times, because its coordinator consumes submit-run, cancel-run, run-events and
// run-command-faults.
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

@secure()
@minLength(32)
@description('API key every request must carry (Authorization: Bearer); from CREMAD_RUNS_API_KEY. Kept as a container app secret.')
param runsApiKey string

// A string, not a bool: azd passes a service template's parameters as they are, without converting them.
@description('\'true\': ingress reachable from the internet; \'false\': only from inside the environment (provision output RUNS_API_EXTERNAL).')
@allowed([
  'true'
  'false'
])
param runsApiExternal string = 'false'

@description('Replicas. More than one is safe (run status updates use ETags) but one is enough.')
@minValue(1)
param minReplicas int = 1

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

var appName = 'runs-api'

// Host filtering: the app is reached as <app name> from other apps in the environment and as
// <app name>[.internal].<default domain> through its ingress; localhost from inside its own container. The service
// exempts /alive and /health, which the platform's probes call by the replica's IP.
var allowedHosts = '${appName};*.${environment.properties.defaultDomain};localhost'

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: appName
  location: location
  tags: {
    'azd-env-name': environmentName
    'azd-service-name': 'runsapi'
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
      ingress: {
        external: runsApiExternal == 'true'
        targetPort: 8080
        transport: 'auto'
        allowInsecure: false
      }
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
          name: 'runs-api-key'
          value: runsApiKey
        }
      ]
    }
    template: {
      containers: [
        {
          name: appName
          image: imageName
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
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
              value: appName
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
            {
              name: 'RunsApi__ApiKey'
              secretRef: 'runs-api-key'
            }
            {
              name: 'AllowedHosts'
              value: allowedHosts
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
      }
    }
  }
}

output SERVICE_RUNSAPI_NAME string = app.name
// The ingress FQDN: <app>.<default domain> when external, <app>.internal.<default domain> when internal.
output SERVICE_RUNSAPI_URI string = 'https://${app.properties.configuration.ingress.fqdn}/'
