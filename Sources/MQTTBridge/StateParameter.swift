import OCPP

/// The names of the state parameters: the last level of `<S>/state/<parameter>` and
/// `<S>/connector/<n>/state/<parameter>` (docs/mqtt-api.md). Every name is defined here once, and the state model,
/// Home Assistant discovery, the controls and the docs test use these.
public enum StateParameter {
    // Station-wide: `<S>/state/<parameter>`.
    public static let connectionState = "connection_state"
    public static let lastConnected = "last_connected"
    public static let lastDisconnected = "last_disconnected"
    public static let disconnectReason = "disconnect_reason"
    public static let lastSeen = "last_seen"
    public static let heartbeat = "heartbeat"
    public static let chargingEnabled = "charging_enabled"
    public static let chargePointVendor = "charge_point_vendor"
    public static let chargePointModel = "charge_point_model"
    public static let chargePointSerialNumber = "charge_point_serial_number"
    public static let chargeBoxSerialNumber = "charge_box_serial_number"
    public static let firmwareVersion = "firmware_version"
    public static let iccid = "iccid"
    public static let imsi = "imsi"
    public static let meterType = "meter_type"
    public static let meterSerialNumber = "meter_serial_number"
    public static let authorize = "authorize"
    public static let idTag = "id_tag"
    public static let dataTransferVendorId = "data_transfer_vendor_id"
    public static let dataTransferMessageId = "data_transfer_message_id"
    public static let dataTransferData = "data_transfer_data"
    public static let diagnosticsStatus = "diagnostics_status"
    public static let firmwareStatus = "firmware_status"
    public static let logStatus = "log_status"
    public static let securityEvent = "security_event"
    public static let securityEventTimestamp = "security_event_timestamp"
    /// When the gateway started, for each station of `EXPECTED_CHARGE_POINTS` (ocpp2mqtt's parameter).
    public static let serviceStarted = "service_started"
    /// Published by the availability and max current controls when the charger accepts them; `availability` also from
    /// the charger's StatusNotification for connector 0 (`Unavailable`: `Inoperative`, any other: `Operative`).
    public static let availability = "availability"
    public static let maxCurrent = "max_current"
    /// The OCPP version of the station's connection (`1.6`, `2.0.1`).
    public static let ocppVersion = "ocpp_version"
    /// OCPP 2.0.1: the last NotifyEvent's event data, as JSON.
    public static let notifyEvent = "notify_event"

    // Per connector: `<S>/connector/<n>/state/<parameter>`, and `<S>/state/<parameter>` for connector 1.
    public static let status = "status"
    public static let errorCode = "error_code"
    public static let connectorId = "connector_id"
    public static let info = "info"
    public static let vendorId = "vendor_id"
    public static let vendorErrorCode = "vendor_error_code"
    public static let charging = "charging"
    public static let plugged = "plugged"
    public static let transactionId = "transaction_id"
    public static let meterStart = "meter_start"
    public static let meterStartTimestamp = "meter_start_timestamp"
    public static let meterStop = "meter_stop"
    public static let meterStopTimestamp = "meter_stop_timestamp"
    public static let meterStopReason = "meter_stop_reason"
    public static let sessionEnergy = "session_energy"
    public static let evConnected = "ev_connected"
    /// OCPP 2.0.1: the EVSE (the topic's number) and the connector's own status and the transaction's charging state,
    /// as sent; `status` is their 1.6 equivalent.
    public static let evseId = "evse_id"
    public static let connectorStatus = "connector_status"
    public static let chargingState = "charging_state"
    /// OCPP 2.0.1: the type of the transaction's token (`ISO14443`, `Central`, ...).
    public static let idTokenType = "id_token_type"

    /// Every station-wide parameter.
    public static let stationWide: [String] = [
        connectionState,
        lastConnected,
        lastDisconnected,
        disconnectReason,
        lastSeen,
        heartbeat,
        chargingEnabled,
        chargePointVendor,
        chargePointModel,
        chargePointSerialNumber,
        chargeBoxSerialNumber,
        firmwareVersion,
        iccid,
        imsi,
        meterType,
        meterSerialNumber,
        authorize,
        idTag,
        dataTransferVendorId,
        dataTransferMessageId,
        dataTransferData,
        diagnosticsStatus,
        firmwareStatus,
        logStatus,
        securityEvent,
        securityEventTimestamp,
        serviceStarted,
        availability,
        maxCurrent,
        ocppVersion,
        notifyEvent,
    ]

    /// Every connector parameter but the meter values (``meter(_:phase:location:)``).
    public static let perConnector: [String] = [
        status,
        errorCode,
        connectorId,
        info,
        vendorId,
        vendorErrorCode,
        charging,
        plugged,
        transactionId,
        meterStart,
        meterStartTimestamp,
        meterStop,
        meterStopTimestamp,
        meterStopReason,
        sessionEnergy,
        evConnected,
        evseId,
        connectorStatus,
        chargingState,
        idTokenType,
    ]

    /// A meter value's parameter: the measurand lowercased with `.` as `_`, then the phase and the location where
    /// they are not the default: `energy_active_import_register`, `current_import_l1`, `voltage_l1_l2`,
    /// `temperature_body`.
    public static func meter(_ measurand: Measurand, phase: Phase? = nil, location: Location? = nil) -> String {
        var name = measurand.rawValue.lowercased().replacingOccurrences(of: ".", with: "_")
        switch phase {
        case nil: break
        case .l1, .l1N: name += "_l1"
        case .l2, .l2N: name += "_l2"
        case .l3, .l3N: name += "_l3"
        case .n: name += "_n"
        case .l1L2: name += "_l1_l2"
        case .l2L3: name += "_l2_l3"
        case .l3L1: name += "_l3_l1"
        }
        // Outlet is the spec's default location and SoC is always the EV's: no suffix for those.
        switch location {
        case .inlet?, .cable?, .body?: name += "_" + location!.rawValue.lowercased()
        default: break
        }
        return name
    }

    /// Power and current flows: set to 0 when charging stops or the charger disconnects.
    public static func isFlow(_ parameter: String) -> Bool {
        parameter.hasPrefix("power_active_import") || parameter.hasPrefix("power_active_export")
            || parameter.hasPrefix("current_import") || parameter.hasPrefix("current_export")
    }
}

/// The names of the raw-value controls: the last level of `<S>/set/<control>` (docs/mqtt-api.md).
public enum ControlName {
    public static let chargingEnabled = "charging_enabled"
    public static let availability = "availability"
    public static let maxCurrent = "max_current"
    /// The OCPP version of the station's connection (`1.6`, `2.0.1`).
    public static let ocppVersion = "ocpp_version"
    /// OCPP 2.0.1: the last NotifyEvent's event data, as JSON.
    public static let notifyEvent = "notify_event"
    public static let reset = "reset"
    public static let unlockConnector = "unlock_connector"
    public static let remoteStart = "remote_start"
    public static let remoteStop = "remote_stop"
    public static let trigger = "trigger"

    /// Every control, in the order the docs list them.
    public static let all = [chargingEnabled, availability, maxCurrent, reset, unlockConnector, remoteStart, remoteStop, trigger]
}
