// RabbitMQ broker as an internal container app. AMQP (5672) and the management API (15672, which the KEDA scale rules
// read queue lengths from) are reachable only from inside the environment; internal TCP ingress needs no VNet.
// One replica always: a broker that scales to zero drops the connections every service holds. Its state lives in the
// container (a volume would need Azure Files with a shared key, which the storage account forbids), so a restart
// loses queued messages; see infra/README.md.

@description('Name of the container app; the services reach the broker at <name>:5672.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

@description('Resource id of the Container Apps environment.')
param environmentId string

@description('Broker user the services connect as.')
param userName string

@description('Password of that user, kept as a container app secret.')
@secure()
param password string

@description('Container image: the official image with the management plugin.')
param image string = 'docker.io/library/rabbitmq:4-management'

resource broker 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: false
        transport: 'tcp'
        targetPort: 5672
        exposedPort: 5672
        additionalPortMappings: [
          {
            external: false
            targetPort: 15672
            exposedPort: 15672
          }
        ]
      }
      secrets: [
        {
          name: 'rabbitmq-password'
          value: password
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'rabbitmq'
          image: image
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: [
            {
              name: 'RABBITMQ_DEFAULT_USER'
              value: userName
            }
            {
              name: 'RABBITMQ_DEFAULT_PASS'
              secretRef: 'rabbitmq-password'
            }
          ]
          probes: [
            {
              type: 'Startup'
              tcpSocket: {
                port: 5672
              }
              initialDelaySeconds: 5
              periodSeconds: 5
              failureThreshold: 10
            }
            {
              type: 'Liveness'
              tcpSocket: {
                port: 5672
              }
              periodSeconds: 15
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output name string = broker.name
