import CentralSystem
import Foundation
import OCPP

/// OCPP 2.0.1 messages on the same topics as 1.6's (docs/ocpp201.md): connector topics keyed by EVSE id, `status` in
/// 1.6's vocabulary derived from the connector's status and the transaction's charging state (both also as sent),
/// transactions from TransactionEvent in seqNo order, and no reading older than one published.
extension StationStateModel {
    mutating func apply201(_ message: Message201, _ out: inout Output, _ now: Date) {
        switch message {
        case .bootNotification(let boot):
            out.station(StateParameter.chargePointVendor, boot.vendor)
            out.station(StateParameter.chargePointModel, boot.model)
            out.station(StateParameter.chargePointSerialNumber, boot.serialNumber)
            out.station(StateParameter.firmwareVersion, boot.firmwareVersion)
            out.station(StateParameter.iccid, boot.iccid)
            out.station(StateParameter.imsi, boot.imsi)
            seen(&out, now, force: true)
        case .heartbeat:
            out.station(StateParameter.heartbeat, "ON")
            seen(&out, now, force: true)
        case .statusNotification(let evse, let connector, let status):
            focus(on: evse, &out)
            update(out.stationID, evse) {
                $0.v201 = $0.v201 ?? V201()
                $0.v201!.connectorStatus = status
                if status == "Available" {
                    $0.v201!.finished = false
                    $0.v201!.chargingState = nil
                }
            }
            out.connector(evse, StateParameter.connectorStatus, status)
            out.connector(evse, StateParameter.evseId, String(evse))
            out.connector(evse, StateParameter.connectorId, String(connector))
            out.connector(evse, StateParameter.errorCode, status == "Faulted" ? "OtherError" : "NoError")
            publishStatus201(evse, &out, force: true)
            seen(&out, now)
        case .authorize(let token, _, let status):
            out.station(StateParameter.authorize, status)
            out.station(StateParameter.idTag, token)
            seen(&out, now)
        case .transactionEvent(let event):
            applyTransactionEvent(event, &out)
            seen(&out, now)
        case .meterValues(let evse, let samples):
            focus(on: evse, &out)
            publishReadings(samples, evse: evse, transaction: nil, &out)
            seen(&out, now)
        case .notifyEvent(let data):
            out.station(StateParameter.notifyEvent, data.text)
            seen(&out, now)
        case .securityEventNotification(let type, let timestamp):
            out.station(StateParameter.securityEvent, type)
            out.station(StateParameter.securityEventTimestamp, OCPPDateTime.format(timestamp))
            seen(&out, now)
        case .firmwareStatusNotification(let status):
            out.station(StateParameter.firmwareStatus, status)
            seen(&out, now)
        case .logStatusNotification(let status):
            out.station(StateParameter.logStatus, status)
            seen(&out, now)
        case .dataTransfer(let vendorId, let messageId, let data):
            out.station(StateParameter.dataTransferVendorId, vendorId)
            out.station(StateParameter.dataTransferMessageId, messageId)
            out.station(StateParameter.dataTransferData, data)
            seen(&out, now)
        case .other:
            seen(&out, now)
        }
    }

    private mutating func applyTransactionEvent(_ event: TransactionEvent201, _ out: inout Output) {
        guard let evse = event.transactionEVSE else {
            // No EVSE named yet (the charger leaves it out of later events): nothing to place it on.
            return
        }
        focus(on: evse, &out)
        var current = stations[out.stationID]?.connectors[evse]?.v201 ?? V201()
        let ours = current.transactionID == event.transactionId
        if event.applies, event.eventType != .ended, !ours {
            // The first event of a transaction that applies (Started, or an Updated whose Started was lost).
            current.transactionID = event.transactionId
            current.meterStart = event.meterStart
            current.finished = false
            out.connector(evse, StateParameter.transactionId, event.transactionId, kept: true)
            out.connector(evse, StateParameter.meterStartTimestamp, OCPPDateTime.format(event.timestamp), kept: true)
            if let start = current.meterStart {
                out.connector(evse, StateParameter.meterStart, StateValue.number(start), kept: true)
            }
            out.connector(evse, StateParameter.sessionEnergy, "0", kept: true)
            out.connector(evse, StateParameter.evConnected, "ON", kept: true)
            out.connector(evse, StateParameter.evseId, String(evse))
            if let connector = event.connector { out.connector(evse, StateParameter.connectorId, String(connector)) }
        }
        let transactionIsCurrent = current.transactionID == event.transactionId
        if event.applies, transactionIsCurrent, let token = event.idToken {
            out.connector(evse, StateParameter.idTag, token, kept: true)
            out.connector(evse, StateParameter.idTokenType, event.idTokenType, kept: true)
        }
        if event.applies, transactionIsCurrent, let chargingState = event.chargingState, chargingState != current.chargingState {
            current.chargingState = chargingState
            out.connector(evse, StateParameter.chargingState, chargingState)
        }
        update(out.stationID, evse) { $0.v201 = current }
        // The meter start learned later (the transaction's first reading, when Transaction.Begin was not sent).
        if event.applies, transactionIsCurrent, current.meterStart == nil, event.eventType != .ended, let start = event.meterStart {
            update(out.stationID, evse) { $0.v201?.meterStart = start }
            out.connector(evse, StateParameter.meterStart, StateValue.number(start), kept: true)
        }
        // An event that does not apply is left out whole, its readings too (they would be older, or after the end).
        if event.applies {
            publishReadings(event.samples, evse: evse, transaction: transactionIsCurrent || current.transactionID == nil ? event.transactionId : nil, &out)
        }
        if event.applies, event.eventType == .ended, transactionIsCurrent || current.transactionID == nil {
            let last = stations[out.stationID]?.connectors[evse]?.v201
            // The central system's word (the history's), else the last reading published here (a MeterValues').
            let stop = event.meterStop ?? last?.lastEnergy
            if let stop {
                out.connector(evse, StateParameter.meterStop, StateValue.number(stop), kept: true)
                if let start = last?.meterStart ?? event.meterStart {
                    out.connector(evse, StateParameter.sessionEnergy, StateValue.number(stop - start), kept: true)
                }
            }
            out.connector(evse, StateParameter.meterStopTimestamp, OCPPDateTime.format(event.timestamp), kept: true)
            out.connector(evse, StateParameter.meterStopReason, event.stoppedReason ?? "Local", kept: true)
            out.connector(evse, StateParameter.transactionId, "", kept: true)
            out.connector(evse, StateParameter.evConnected, "OFF", kept: true)
            update(out.stationID, evse) {
                $0.v201?.transactionID = nil
                $0.v201?.meterStart = nil
                $0.v201?.chargingState = nil
                $0.v201?.finished = true
            }
            out.connector(evse, StateParameter.chargingState, "Idle")
            stopFlows(&out, connector: evse)
        }
        publishStatus201(evse, &out, force: false)
    }

    /// Publishes the readings not older than the newest published on the EVSE, and the session energy when they
    /// belong to its open transaction (`transaction`, or any open one for a MeterValues).
    private mutating func publishReadings(_ samples: [MeterSample], evse: Int, transaction: String?, _ out: inout Output) {
        guard !samples.isEmpty else { return }
        let newest = stations[out.stationID]?.connectors[evse]?.v201?.newestReading
        let fresh = newest.map { newest in samples.filter { $0.timestamp >= newest } } ?? samples
        guard let latest = fresh.map(\.timestamp).max() else { return }
        let (readings, energy) = Self.readings(fresh, &out)
        let stationID = out.stationID
        Self.updateMeter(&stations[stationID, default: Station()].connectors[evse, default: Connector()],
                         evse, readings, energy, &out) { state in
            guard let open = state.v201?.transactionID, transaction == nil || transaction == open else { return nil }
            return state.v201?.meterStart
        }
        update(stationID, evse) {
            $0.v201 = $0.v201 ?? V201()
            $0.v201!.newestReading = latest
            if let energy { $0.v201!.lastEnergy = energy }
        }
    }

    /// The EVSE's status in 1.6's vocabulary, published when it changed (or always, with `force`).
    private mutating func publishStatus201(_ evse: Int, _ out: inout Output, force: Bool) {
        guard let state = stations[out.stationID]?.connectors[evse], let v201 = state.v201,
              let status = Self.status(v201) else { return }
        let previous = state.status
        guard force || previous != status else { return }
        update(out.stationID, evse) { $0.status = status }
        out.connector(evse, StateParameter.status, status.rawValue)
        out.connector(evse, StateParameter.charging, StateValue.onOff(status == .charging))
        out.connector(evse, StateParameter.plugged, StateValue.onOff(Self.pluggedStatuses.contains(status)))
        if previous == .charging && status != .charging { stopFlows(&out, connector: evse) }
    }

    /// 1.6's status for a 2.0.1 connector: Occupied is refined by the charging state (Charging, SuspendedEV,
    /// SuspendedEVSE; EVConnected and Idle are Preparing), and is Finishing after a transaction ended.
    static func status(_ state: V201) -> ChargePointStatus? {
        switch state.connectorStatus {
        case "Available": return .available
        case "Reserved": return .reserved
        case "Unavailable": return .unavailable
        case "Faulted": return .faulted
        case "Occupied", nil:
            switch state.chargingState {
            case "Charging": return .charging
            case "SuspendedEV": return .suspendedEV
            case "SuspendedEVSE": return .suspendedEVSE
            case "EVConnected": return .preparing
            default:
                if state.transactionID != nil { return .preparing }
                if state.finished { return .finishing }
                return state.connectorStatus == nil ? nil : .preparing
            }
        default: return nil
        }
    }

    /// Remembers an OCPP 2.0.1 transaction that was open before the gateway restarted: later readings count its
    /// session energy from its meter start, and its next event is not taken for a new transaction.
    mutating func restore(_ transaction: Transaction201) {
        update(transaction.station, transaction.evse ?? 1) {
            $0.v201 = $0.v201 ?? V201()
            $0.v201!.transactionID = transaction.id
            $0.v201!.meterStart = transaction.meterStart
        }
    }
}
