import Foundation
import GatewayApp

// `ocpp-gateway healthcheck` probes a running gateway (for container health checks); otherwise run it.
if CommandLine.arguments.dropFirst().first == "healthcheck" {
    exit(HealthCheck.run())
}
exit(await Gateway.run())
