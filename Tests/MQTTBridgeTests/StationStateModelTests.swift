import CentralSystem
import Foundation
import OCPP
import Testing

@testable import MQTTBridge

/// Golden tables: an event in, the exact publications out.
@Suite struct StationStateModelTests {
    let t0 = Date(timeIntervalSince1970: 1_795_269_090)  // 2026-11-21T13:51:30Z
    /// `MQTT_CONNECTOR_1_TOPICS=true`: connector 1 always has both copies (the auto default: below).
    var model = StationStateModel(topics: TopicLayout(basePath: "ocpp", useStationName: true, connectorOneTopics: .always))

    private func table(_ publications: [Publication]) -> [String] {
        publications.map { "\($0.topic) \($0.payload)" }
    }

    private func date(_ text: String) -> Date { OCPPDateTime.parse(text)! }

    @Test mutating func connectBootHeartbeat() {
        #expect(table(model.apply(.connected(station: "CP1", info: ConnectionInfo(remoteAddress: "x", subprotocol: nil)), at: t0)) == [
            "ocpp/CP1/state/connection_state CONNECTED",
            "ocpp/CP1/state/ocpp_version 1.6",
            "ocpp/CP1/state/last_connected 2026-11-21T13:51:30Z",
            "ocpp/CP1/state/last_seen 2026-11-21T13:51:30Z",
        ])
        let boot = BootNotificationRequest(chargePointVendor: "Acme", chargePointModel: "W1", chargePointSerialNumber: "S-9", firmwareVersion: "1.0")
        #expect(table(model.apply(.message(station: "CP1", .bootNotification(boot, BootNotificationResponse(status: .accepted, currentTime: t0, interval: 300))), at: t0)) == [
            "ocpp/CP1/state/charge_point_vendor Acme",
            "ocpp/CP1/state/charge_point_model W1",
            "ocpp/CP1/state/charge_point_serial_number S-9",
            "ocpp/CP1/state/firmware_version 1.0",
            "ocpp/CP1/state/last_seen 2026-11-21T13:51:30Z",
        ])
        #expect(table(model.apply(.message(station: "CP1", .heartbeat(HeartbeatResponse(currentTime: t0))), at: t0 + 5)) == [
            "ocpp/CP1/state/heartbeat ON",
            "ocpp/CP1/state/last_seen 2026-11-21T13:51:35Z",
        ])
    }

    @Test mutating func statusPerConnectorWithConnectorOneMirrored() {
        let status = StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .charging, info: "ok", vendorErrorCode: "E7")
        #expect(table(model.apply(.message(station: "CP1", .statusNotification(status)), at: t0)) == [
            "ocpp/CP1/connector/1/state/status Charging", "ocpp/CP1/state/status Charging",
            "ocpp/CP1/connector/1/state/error_code NoError", "ocpp/CP1/state/error_code NoError",
            "ocpp/CP1/connector/1/state/connector_id 1", "ocpp/CP1/state/connector_id 1",
            "ocpp/CP1/connector/1/state/info ok", "ocpp/CP1/state/info ok",
            "ocpp/CP1/connector/1/state/vendor_error_code E7", "ocpp/CP1/state/vendor_error_code E7",
            "ocpp/CP1/connector/1/state/charging ON", "ocpp/CP1/state/charging ON",
            "ocpp/CP1/connector/1/state/plugged ON", "ocpp/CP1/state/plugged ON",
            "ocpp/CP1/state/last_seen 2026-11-21T13:51:30Z",
        ])
        // Connector 2 and connector 0 stay under their own topics; last_seen is not repeated within a minute.
        let second = StatusNotificationRequest(connectorId: 2, errorCode: .noError, status: .available)
        #expect(table(model.apply(.message(station: "CP1", .statusNotification(second)), at: t0 + 1)) == [
            "ocpp/CP1/connector/2/state/status Available",
            "ocpp/CP1/connector/2/state/error_code NoError",
            "ocpp/CP1/connector/2/state/connector_id 2",
            "ocpp/CP1/connector/2/state/charging OFF",
            "ocpp/CP1/connector/2/state/plugged OFF",
        ])
    }

    /// A flow reported as 0 is not zeroed again when charging stops; one still flowing is, and so is one whose value
    /// is not a number.
    @Test mutating func onlyFlowsStillFlowingAreZeroedWhenChargingStops() {
        _ = model.apply(.message(station: "CP1", .statusNotification(StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .charging))), at: t0)
        let values = [MeterValue(timestamp: t0, sampledValue: [
            SampledValue(value: "0.0", measurand: .powerActiveImport, unit: .kW),
            SampledValue(value: "16", measurand: .currentImport, phase: .l1, unit: .a),
            SampledValue(value: "-0", measurand: .currentImport, phase: .l2, unit: .a),
            SampledValue(value: "n/a", measurand: .currentImport, phase: .l3, unit: .a),
        ])]
        let request = MeterValuesRequest(connectorId: 1, transactionId: nil, meterValue: values)
        _ = model.apply(.message(station: "CP1", .meterValues(request, samples: MeterSample.normalise(values))), at: t0 + 1)
        let suspended = StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .suspendedEV)
        let zeroed = table(model.apply(.message(station: "CP1", .statusNotification(suspended)), at: t0 + 2)).filter { $0.contains("/connector/1/") }
        #expect(zeroed.filter { $0.contains("power") || $0.contains("current") } == [
            "ocpp/CP1/connector/1/state/current_import 0",  // the highest phase's, 16
            "ocpp/CP1/connector/1/state/current_import_l1 0", "ocpp/CP1/connector/1/state/current_import_l3 0",
        ])
    }

    @Test mutating func aTransactionWithPhasesAndUnitsAndItsEnd() {
        let start = StartTransactionRequest(connectorId: 1, idTag: "TAG", meterStart: 1000, timestamp: date("2026-11-21T13:00:00Z"))
        _ = model.apply(.message(station: "CP1", .startTransaction(start, StartTransactionResponse(idTagInfo: IdTagInfo(status: .accepted), transactionId: 7))), at: t0)
        _ = model.apply(.message(station: "CP1", .statusNotification(StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .charging))), at: t0)
        let values = [MeterValue(timestamp: t0, sampledValue: [
            SampledValue(value: "1.5", unit: .kWh),
            SampledValue(value: "7.2", measurand: .powerActiveImport, unit: .kW),
            SampledValue(value: "16", measurand: .currentImport, phase: .l1, unit: .a),
            SampledValue(value: "230.5", measurand: .voltage, phase: .l1N, unit: .v),
            SampledValue(value: "400", measurand: .voltage, phase: .l1L2, unit: .v),
            SampledValue(value: "41", measurand: .temperature, location: .body, unit: .celsius),
            SampledValue(value: "80", measurand: .soc, location: .ev, unit: .percent),
        ]), MeterValue(timestamp: t0 + 10, sampledValue: [SampledValue(value: "1600", unit: .wh)])]
        let request = MeterValuesRequest(connectorId: 1, transactionId: 7, meterValue: values)
        #expect(table(model.apply(.message(station: "CP1", .meterValues(request, samples: MeterSample.normalise(values))), at: t0 + 10)).filter { !$0.hasPrefix("ocpp/CP1/state/") } == [
            "ocpp/CP1/connector/1/state/energy_active_import_register 1600",
            "ocpp/CP1/connector/1/state/power_active_import 7200",
            "ocpp/CP1/connector/1/state/current_import_l1 16",
            "ocpp/CP1/connector/1/state/voltage_l1 230.5",
            "ocpp/CP1/connector/1/state/voltage_l1_l2 400",
            "ocpp/CP1/connector/1/state/temperature_body 41",
            "ocpp/CP1/connector/1/state/soc 80",
            // The whole charger's current and voltage, from the one phase reported (PhaseAggregates).
            "ocpp/CP1/connector/1/state/current_import 16",
            "ocpp/CP1/connector/1/state/voltage 230.5",
            "ocpp/CP1/connector/1/state/session_energy 600",
        ])
        // Charging stops: power and current drop to 0.
        let suspended = StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .suspendedEV)
        let zeroed = table(model.apply(.message(station: "CP1", .statusNotification(suspended)), at: t0 + 11))
        #expect(zeroed.contains("ocpp/CP1/state/power_active_import 0"))
        #expect(zeroed.contains("ocpp/CP1/connector/1/state/current_import_l1 0"))
        #expect(!zeroed.contains { $0.contains("voltage") })

        let stop = StopTransactionRequest(transactionId: 7, meterStop: 2500, timestamp: date("2026-11-21T14:00:00Z"))
        #expect(table(model.apply(.message(station: "CP1", .stopTransaction(stop, StopTransactionResponse(), transaction: nil, samples: [])), at: t0 + 12)) == [
            "ocpp/CP1/connector/1/state/meter_stop 2500", "ocpp/CP1/state/meter_stop 2500",
            "ocpp/CP1/connector/1/state/meter_stop_timestamp 2026-11-21T14:00:00Z", "ocpp/CP1/state/meter_stop_timestamp 2026-11-21T14:00:00Z",
            "ocpp/CP1/connector/1/state/meter_stop_reason Local", "ocpp/CP1/state/meter_stop_reason Local",
            "ocpp/CP1/connector/1/state/session_energy 1500", "ocpp/CP1/state/session_energy 1500",
            "ocpp/CP1/connector/1/state/transaction_id ", "ocpp/CP1/state/transaction_id ",
            "ocpp/CP1/connector/1/state/ev_connected OFF", "ocpp/CP1/state/ev_connected OFF",
        ])
    }

    /// `MQTT_CONNECTOR_1_TOPICS=false`: connector 1 on the flat topics only; connectors 0 and 2 keep theirs.
    @Test func connectorOneOnTheFlatTopicsOnly() {
        var model = StationStateModel(topics: TopicLayout(basePath: "ocpp", useStationName: true, connectorOneTopics: .never))
        let status = StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .charging)
        #expect(table(model.apply(.message(station: "CP1", .statusNotification(status)), at: t0)) == [
            "ocpp/CP1/state/status Charging", "ocpp/CP1/state/error_code NoError", "ocpp/CP1/state/connector_id 1",
            "ocpp/CP1/state/charging ON", "ocpp/CP1/state/plugged ON", "ocpp/CP1/state/last_seen 2026-11-21T13:51:30Z",
        ])
        let values = [MeterValue(timestamp: t0, sampledValue: [
            SampledValue(value: "1600", unit: .wh), SampledValue(value: "16", measurand: .currentImport, phase: .l1, unit: .a),
        ])]
        #expect(table(model.apply(.message(station: "CP1", .meterValues(MeterValuesRequest(connectorId: 1, meterValue: values), samples: MeterSample.normalise(values))), at: t0 + 1)) == [
            "ocpp/CP1/state/energy_active_import_register 1600", "ocpp/CP1/state/current_import_l1 16", "ocpp/CP1/state/current_import 16",
        ])
        #expect(table(model.apply(.message(station: "CP1", .meterValues(MeterValuesRequest(connectorId: 2, meterValue: values), samples: MeterSample.normalise(values))), at: t0 + 2)) == [
            "ocpp/CP1/connector/2/state/energy_active_import_register 1600", "ocpp/CP1/connector/2/state/current_import_l1 16",
            "ocpp/CP1/connector/2/state/current_import 16",
        ])
        let whole = StatusNotificationRequest(connectorId: 0, errorCode: .noError, status: .available)
        // Connector 0 is the whole charger: its status also says whether the charger is available.
        #expect(table(model.apply(.message(station: "CP1", .statusNotification(whole)), at: t0 + 3))
            .filter { !$0.hasPrefix("ocpp/CP1/connector/0/state/") } == ["ocpp/CP1/state/availability Operative"])
        let unavailable = StatusNotificationRequest(connectorId: 0, errorCode: .noError, status: .unavailable)
        #expect(table(model.apply(.message(station: "CP1", .statusNotification(unavailable)), at: t0 + 4)).contains("ocpp/CP1/state/availability Inoperative"))
    }

    /// `MQTT_CONNECTOR_1_TOPICS=auto` (the default): a one-connector charger's values go on the flat topics once. When
    /// the station shows a second connector, connector 1's values published so far are copied under `connector/1`
    /// (its status, transaction and readings, nothing station-wide), and from then on it has both.
    @Test func connectorOneIsCopiedOnceASecondConnectorShows() {
        var model = StationStateModel(topics: TopicLayout(basePath: "ocpp", useStationName: true))
        func apply(_ message: ChargePointMessage, at seconds: TimeInterval = 0) -> StationStateModel.Update {
            model.update(.message(station: "CP1", message), at: t0 + seconds)
        }
        let values = [MeterValue(timestamp: t0, sampledValue: [SampledValue(value: "1600", unit: .wh)])]
        let readings = MeterValuesRequest(connectorId: 1, transactionId: 7, meterValue: values)
        let start = StartTransactionRequest(connectorId: 1, idTag: "TAG", meterStart: 1000, timestamp: t0)
        #expect(table(apply(.statusNotification(StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .charging))).publications)
            .allSatisfy { !$0.contains("/connector/") })
        #expect(table(apply(.startTransaction(start, StartTransactionResponse(idTagInfo: IdTagInfo(status: .accepted), transactionId: 7))).publications)
            .allSatisfy { !$0.contains("/connector/") })
        #expect(table(apply(.meterValues(readings, samples: MeterSample.normalise(values))).publications) == [
            "ocpp/CP1/state/energy_active_import_register 1600", "ocpp/CP1/state/session_energy 600",
        ])
        // Connector 0 is the whole charger, not a second connector.
        let whole = apply(.statusNotification(StatusNotificationRequest(connectorId: 0, errorCode: .noError, status: .available)))
        #expect(whole.copies.isEmpty)
        let second = apply(.statusNotification(StatusNotificationRequest(connectorId: 2, errorCode: .noError, status: .available)), at: 1)
        #expect(table(second.publications).allSatisfy { $0.hasPrefix("ocpp/CP1/connector/2/state/") })
        let copied = second.copies.map { "\($0.from) -> \($0.to)" }
        for parameter in ["status", "transaction_id", "meter_start", "session_energy", "energy_active_import_register", "id_tag"] {
            #expect(copied.contains("ocpp/CP1/state/\(parameter) -> ocpp/CP1/connector/1/state/\(parameter)"))
        }
        #expect(!copied.contains { $0.hasPrefix("ocpp/CP1/state/last_seen") || $0.contains("/connector/0/") || $0.contains("/connector/2/") })
        // Only once; and connector 1's readings now go on both topics.
        #expect(apply(.statusNotification(StatusNotificationRequest(connectorId: 3, errorCode: .noError, status: .available)), at: 2).copies.isEmpty)
        #expect(table(apply(.meterValues(readings, samples: MeterSample.normalise(values)), at: 3).publications) == [
            "ocpp/CP1/connector/1/state/energy_active_import_register 1600", "ocpp/CP1/state/energy_active_import_register 1600",
            "ocpp/CP1/connector/1/state/session_energy 600", "ocpp/CP1/state/session_energy 600",
        ])
        // A station known from before a restart to have several connectors has both from its first event, nothing copied.
        var restarted = StationStateModel(topics: TopicLayout(basePath: "ocpp", useStationName: true))
        restarted.noteSeveralConnectors("CP1")
        let first = restarted.update(.message(station: "CP1", .statusNotification(StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .available))), at: t0)
        #expect(table(first.publications).contains("ocpp/CP1/connector/1/state/status Available"))
        #expect(restarted.update(.message(station: "CP1", .statusNotification(StatusNotificationRequest(connectorId: 2, errorCode: .noError, status: .available))), at: t0).copies.isEmpty)
    }

    /// A three-phase charger that reports only phases also gets the whole charger's values, the way an electrician
    /// reads them; one that reports the whole value itself keeps it.
    @Test mutating func phasesAloneGetTheirWholeChargerValue() {
        let values = [MeterValue(timestamp: t0, sampledValue: [
            SampledValue(value: "16.0", measurand: .currentImport, phase: .l1, unit: .a),
            SampledValue(value: "15.5", measurand: .currentImport, phase: .l2, unit: .a),
            SampledValue(value: "16.2", measurand: .currentImport, phase: .l3, unit: .a),
            SampledValue(value: "0.3", measurand: .currentImport, phase: .n, unit: .a),
            SampledValue(value: "230", measurand: .voltage, phase: .l1N, unit: .v),
            SampledValue(value: "232", measurand: .voltage, phase: .l2N, unit: .v),
            SampledValue(value: "228", measurand: .voltage, phase: .l3N, unit: .v),
            SampledValue(value: "400", measurand: .voltage, phase: .l1L2, unit: .v),
            SampledValue(value: "3.68", measurand: .powerActiveImport, phase: .l1, unit: .kW),
            SampledValue(value: "3600", measurand: .powerActiveImport, phase: .l2, unit: .w),
            SampledValue(value: "3700", measurand: .powerActiveImport, phase: .l3, unit: .w),
            SampledValue(value: "1000", measurand: .energyActiveImportRegister, phase: .l1, unit: .wh),
            SampledValue(value: "2", measurand: .energyActiveImportRegister, phase: .l2, unit: .kWh),
            SampledValue(value: "50", measurand: .soc, location: .ev, unit: .percent),
        ])]
        let request = MeterValuesRequest(connectorId: 2, meterValue: values)
        let published = table(model.apply(.message(station: "CP1", .meterValues(request, samples: MeterSample.normalise(values))), at: t0))
            .filter { $0.hasPrefix("ocpp/CP1/connector/2/") }.map { $0.replacingOccurrences(of: "ocpp/CP1/connector/2/state/", with: "") }
        #expect(published.contains("current_import 16.2"))  // the highest phase; the neutral left out
        #expect(published.contains("voltage 230"))  // the mean of the phases to neutral; line to line left out
        #expect(published.contains("power_active_import 10980"))  // the sum, kW normalised to W first
        #expect(published.contains("energy_active_import_register 3000"))
        #expect(published.contains("current_import_l3 16.2") && published.contains("voltage_l1_l2 400"))
        #expect(!published.contains { $0.hasPrefix("soc_") })

        let whole = [MeterValue(timestamp: t0, sampledValue: [
            SampledValue(value: "20", measurand: .currentImport, unit: .a),
            SampledValue(value: "16", measurand: .currentImport, phase: .l1, unit: .a),
        ])]
        let own = table(model.apply(.message(station: "CP1", .meterValues(MeterValuesRequest(connectorId: 2, meterValue: whole),
                                                                         samples: MeterSample.normalise(whole))), at: t0 + 1))
        #expect(own.filter { $0.contains("/current_import ") } == ["ocpp/CP1/connector/2/state/current_import 20"])
    }

    @Test mutating func aStopAfterARestartUsesTheStoredTransaction() {
        let transaction = Transaction(id: 9, station: "CP1", connectorId: 2, idTag: "T", meterStart: 500, startedAt: t0)
        model.restore(transaction)
        let values = [MeterValue(timestamp: t0, sampledValue: [SampledValue(value: "900")])]
        let published = table(model.apply(.message(station: "CP1", .meterValues(MeterValuesRequest(connectorId: 2, transactionId: 9, meterValue: values), samples: MeterSample.normalise(values))), at: t0))
        #expect(published.contains("ocpp/CP1/connector/2/state/session_energy 400"))
        let stop = StopTransactionRequest(transactionId: 9, meterStop: 1200, timestamp: t0, reason: .evDisconnected)
        let stopped = table(model.apply(.message(station: "CP1", .stopTransaction(stop, StopTransactionResponse(), transaction: transaction, samples: [])), at: t0))
        #expect(stopped.contains("ocpp/CP1/connector/2/state/session_energy 700"))
        #expect(stopped.contains("ocpp/CP1/connector/2/state/meter_stop_reason EVDisconnected"))
        #expect(!stopped.contains { $0.hasPrefix("ocpp/CP1/state/") })
    }

    @Test mutating func disconnectZeroesFlowsAndSaysWhy() {
        let values = [MeterValue(timestamp: t0, sampledValue: [SampledValue(value: "11", measurand: .powerActiveImport, unit: .kW)])]
        _ = model.apply(.message(station: "CP1", .meterValues(MeterValuesRequest(connectorId: 1, meterValue: values), samples: MeterSample.normalise(values))), at: t0)
        #expect(table(model.apply(.disconnected(station: "CP1", reason: .timeout), at: t0)) == [
            "ocpp/CP1/state/connection_state DISCONNECTED",
            "ocpp/CP1/state/last_disconnected 2026-11-21T13:51:30Z",
            "ocpp/CP1/state/disconnect_reason timeout",
            "ocpp/CP1/connector/1/state/power_active_import 0", "ocpp/CP1/state/power_active_import 0",
        ])
    }

    @Test mutating func notificationsAndTheSwitch() {
        #expect(table(model.apply(.chargingEnabledChanged(station: "CP1", enabled: false), at: t0)) == ["ocpp/CP1/state/charging_enabled OFF"])
        #expect(table(model.apply(.message(station: "CP1", .authorize(AuthorizeRequest(idTag: "T1"), AuthorizeResponse(idTagInfo: IdTagInfo(status: .blocked)))), at: t0)) == [
            "ocpp/CP1/state/authorize Blocked", "ocpp/CP1/state/id_tag T1", "ocpp/CP1/state/last_seen 2026-11-21T13:51:30Z",
        ])
        #expect(table(model.apply(.message(station: "CP1", .firmwareStatusNotification(FirmwareStatusNotificationRequest(status: .installing))), at: t0)) == [
            "ocpp/CP1/state/firmware_status Installing",
        ])
        #expect(table(model.apply(.message(station: "CP1", .dataTransfer(DataTransferRequest(vendorId: "acme"), DataTransferResponse(status: .unknownVendorId))), at: t0)) == [
            "ocpp/CP1/state/data_transfer_vendor_id acme",
        ])
    }
}
