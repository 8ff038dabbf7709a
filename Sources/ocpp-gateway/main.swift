import Foundation
import GatewayApp

exit(await Gateway.run())
