import Testing

@testable import GatewayApp

@Suite struct GatewayCommandTests {
    @Test func theArgumentsChooseWhatToDo() {
        #expect(GatewayCommand.parse([]) == .run)
        #expect(GatewayCommand.parse(["healthcheck"]) == .healthcheck)
        #expect(GatewayCommand.parse(["check-config"]) == .checkConfig)
        for help in ["--help", "-h", "help"] { #expect(GatewayCommand.parse([help]) == .help) }
        for version in ["--version", "-V", "version"] { #expect(GatewayCommand.parse([version]) == .version) }
        #expect(GatewayCommand.parse(["--port=3000"]) == .invalid("unknown option '--port=3000'"))
        #expect(GatewayCommand.parse(["start"]) == .invalid("unknown command 'start'"))
        #expect(GatewayCommand.parse(["healthcheck", "now"]) == .invalid("'healthcheck' takes no arguments (got 'now')"))
    }

    @Test func theUsageNamesTheFirstSettingsAndWhereTheRestAre() {
        for text in ["LISTEN_PORT", "MQTT_HOSTNAME", "MQTT_BASEPATH", "healthcheck", "check-config", "docs/configuration.md", gatewayVersion] {
            #expect(GatewayCommand.usage.contains(text))
        }
    }
}
