import Foundation
import GatewayApp

// The command line only chooses what to do; the gateway is configured by its environment (GatewayCommand).
switch GatewayCommand.parse(Array(CommandLine.arguments.dropFirst())) {
case .run:
    exit(await Gateway.run())
case .healthcheck:
    exit(HealthCheck.run())
case .checkConfig:
    exit(Gateway.checkConfiguration())
case .help:
    print(GatewayCommand.usage)
    exit(0)
case .version:
    print("ocpp-gateway \(gatewayVersion)")
    exit(0)
case .invalid(let reason):
    FileHandle.standardError.write(Data("ocpp-gateway: \(reason)\nRun 'ocpp-gateway --help' for usage.\n".utf8))
    exit(2)
}
