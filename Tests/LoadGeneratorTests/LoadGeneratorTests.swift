import Foundation
import Testing
@testable import LoadGenerator
import OCPP

@Suite struct MeterValuesFrameTests {
    @Test func framesAreValidMeterValuesCalls() throws {
        let reading = MeterReading(energyWh: 1_234_567, powerW: 10_996, currentDeciA: (159, 160, -3), voltageDeciV: (2301, 2299, 2305))
        let bytes = MeterValuesFrame.make(messageID: "42", connectorID: 1, transactionID: 7,
                                          timestamp: MeterValuesFrame.timestamp(unixSeconds: 1_795_000_000), reading: reading)
        guard case .call(let call) = try FrameCodec.decode(bytes) else {
            Issue.record("not a CALL")
            return
        }
        #expect(call.messageID == "42")
        #expect(call.action == "MeterValues")
        let request = try PayloadCoding.decode(MeterValuesRequest.self, from: call.payload)
        #expect(request.connectorId == 1)
        #expect(request.transactionId == 7)
        #expect(request.meterValue.count == 1)
        #expect(request.meterValue[0].timestamp == Date(timeIntervalSince1970: 1_795_000_000))
        let values = request.meterValue[0].sampledValue
        #expect(values.map(\.value) == ["1234567", "10996", "15.9", "16.0", "-0.3", "230.1", "229.9", "230.5"])
        #expect(values.map(\.measurand) == [.energyActiveImportRegister, .powerActiveImport, .currentImport, .currentImport,
                                            .currentImport, .voltage, .voltage, .voltage])
        #expect(values.map(\.phase) == [nil, nil, .l1, .l2, .l3, .l1N, .l2N, .l3N])
        #expect(values.allSatisfy { $0.context == .samplePeriodic && $0.location == .outlet })
    }

    @Test func timestampsAreUTCSeconds() {
        #expect(MeterValuesFrame.timestamp(unixSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(MeterValuesFrame.timestamp(unixSeconds: 1_795_000_000) == "2026-11-18T11:06:40Z")
    }
}

@Suite struct MeasurementTests {
    @Test func percentilesUseNearestRank() {
        let summary = LatencySummary(nanoseconds: (1...1000).map { UInt64($0) * 1000 })
        #expect(summary.count == 1000)
        #expect(summary.p50 == 500)
        #expect(summary.p99 == 990)
        #expect(summary.max == 1000)
        #expect(LatencySummary(nanoseconds: []) == .empty)
        #expect(LatencySummary(nanoseconds: [7000]).p99 == 7)
    }

    @Test func procFieldsAreReadAfterTheCommandName() {
        let stat = "1234 (ocpp gate) way) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 200"
        #expect(ProcessSampler.cpuSeconds(stat: stat) == 3.0)
        #expect(ProcessSampler.residentKiB(status: "Name:\tx\nVmRSS:\t   20480 kB\nVmSwap: 0 kB") == 20480)
        #expect(ProcessSampler.sampleSelf().map { $0.residentKiB > 0 } == true)
    }

    @Test func onlyLoopbackTargetsAreAccepted() {
        var options = LoadOptions()
        #expect(options.problem() == nil)
        options.host = "10.0.0.5"
        #expect(options.problem()?.contains("not a loopback address") == true)
        options.host = "127.0.0.1"
        options.mqttHost = "broker.example"
        #expect(options.problem()?.contains("MQTT") == true)
        options.mqttHost = "localhost"
        options.chargers = 0
        #expect(options.problem() != nil)
    }
}
