import Foundation

// Messages a charge point sends to the central system (OCPP 1.6 edition 2 section 6, and the security whitepaper).

public struct AuthorizeRequest: OCPPRequest {
    public static let action = Action.authorize
    public typealias Response = AuthorizeResponse
    public var idTag: CiString20
    public init(idTag: CiString20) { self.idTag = idTag }
}

public struct AuthorizeResponse: OCPPResponse {
    public var idTagInfo: IdTagInfo
    public init(idTagInfo: IdTagInfo) { self.idTagInfo = idTagInfo }
}

public struct BootNotificationRequest: OCPPRequest {
    public static let action = Action.bootNotification
    public typealias Response = BootNotificationResponse
    public var chargePointVendor: CiString20
    public var chargePointModel: CiString20
    public var chargePointSerialNumber: CiString25?
    public var chargeBoxSerialNumber: CiString25?
    public var firmwareVersion: CiString50?
    public var iccid: CiString20?
    public var imsi: CiString20?
    public var meterType: CiString25?
    public var meterSerialNumber: CiString25?

    public init(
        chargePointVendor: CiString20, chargePointModel: CiString20, chargePointSerialNumber: CiString25? = nil,
        chargeBoxSerialNumber: CiString25? = nil, firmwareVersion: CiString50? = nil, iccid: CiString20? = nil,
        imsi: CiString20? = nil, meterType: CiString25? = nil, meterSerialNumber: CiString25? = nil
    ) {
        self.chargePointVendor = chargePointVendor
        self.chargePointModel = chargePointModel
        self.chargePointSerialNumber = chargePointSerialNumber
        self.chargeBoxSerialNumber = chargeBoxSerialNumber
        self.firmwareVersion = firmwareVersion
        self.iccid = iccid
        self.imsi = imsi
        self.meterType = meterType
        self.meterSerialNumber = meterSerialNumber
    }
}

public struct BootNotificationResponse: OCPPResponse {
    public var status: RegistrationStatus
    public var currentTime: Date
    public var interval: Int
    public init(status: RegistrationStatus, currentTime: Date, interval: Int) {
        self.status = status
        self.currentTime = currentTime
        self.interval = interval
    }
}

public struct DataTransferRequest: OCPPRequest {
    public static let action = Action.dataTransfer
    public typealias Response = DataTransferResponse
    public var vendorId: CiString255
    public var messageId: CiString50?
    public var data: String?
    public init(vendorId: CiString255, messageId: CiString50? = nil, data: String? = nil) {
        self.vendorId = vendorId
        self.messageId = messageId
        self.data = data
    }
}

public struct DataTransferResponse: OCPPResponse {
    public var status: DataTransferStatus
    public var data: String?
    public init(status: DataTransferStatus, data: String? = nil) {
        self.status = status
        self.data = data
    }
}

public struct DiagnosticsStatusNotificationRequest: OCPPRequest {
    public static let action = Action.diagnosticsStatusNotification
    public typealias Response = DiagnosticsStatusNotificationResponse
    public var status: DiagnosticsStatus
    public init(status: DiagnosticsStatus) { self.status = status }
}

public struct DiagnosticsStatusNotificationResponse: OCPPResponse {
    public init() {}
}

public struct FirmwareStatusNotificationRequest: OCPPRequest {
    public static let action = Action.firmwareStatusNotification
    public typealias Response = FirmwareStatusNotificationResponse
    public var status: FirmwareStatus
    public init(status: FirmwareStatus) { self.status = status }
}

public struct FirmwareStatusNotificationResponse: OCPPResponse {
    public init() {}
}

public struct HeartbeatRequest: OCPPRequest {
    public static let action = Action.heartbeat
    public typealias Response = HeartbeatResponse
    public init() {}
}

public struct HeartbeatResponse: OCPPResponse {
    public var currentTime: Date
    public init(currentTime: Date) { self.currentTime = currentTime }
}

public struct MeterValuesRequest: OCPPRequest {
    public static let action = Action.meterValues
    public typealias Response = MeterValuesResponse
    public var connectorId: Int
    public var transactionId: Int?
    public var meterValue: [MeterValue]

    public init(connectorId: Int, transactionId: Int? = nil, meterValue: [MeterValue]) {
        self.connectorId = connectorId
        self.transactionId = transactionId
        self.meterValue = meterValue
    }

    private enum CodingKeys: String, CodingKey { case connectorId, transactionId, meterValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        connectorId = try container.decode(Int.self, forKey: .connectorId)
        transactionId = try container.decodeIfPresent(Int.self, forKey: .transactionId)
        meterValue = try container.decode([MeterValue].self, forKey: .meterValue)
            .requireNonEmpty(decoder, key: CodingKeys.meterValue)
    }
}

public struct MeterValuesResponse: OCPPResponse {
    public init() {}
}

public struct StartTransactionRequest: OCPPRequest {
    public static let action = Action.startTransaction
    public typealias Response = StartTransactionResponse
    public var connectorId: Int
    public var idTag: CiString20
    public var meterStart: Int
    public var reservationId: Int?
    public var timestamp: Date

    public init(connectorId: Int, idTag: CiString20, meterStart: Int, timestamp: Date, reservationId: Int? = nil) {
        self.connectorId = connectorId
        self.idTag = idTag
        self.meterStart = meterStart
        self.timestamp = timestamp
        self.reservationId = reservationId
    }
}

public struct StartTransactionResponse: OCPPResponse {
    public var idTagInfo: IdTagInfo
    public var transactionId: Int
    public init(idTagInfo: IdTagInfo, transactionId: Int) {
        self.idTagInfo = idTagInfo
        self.transactionId = transactionId
    }
}

public struct StatusNotificationRequest: OCPPRequest {
    public static let action = Action.statusNotification
    public typealias Response = StatusNotificationResponse
    public var connectorId: Int
    public var errorCode: ChargePointErrorCode
    public var info: CiString50?
    public var status: ChargePointStatus
    public var timestamp: Date?
    public var vendorId: CiString255?
    public var vendorErrorCode: CiString50?

    public init(
        connectorId: Int, errorCode: ChargePointErrorCode, status: ChargePointStatus, info: CiString50? = nil,
        timestamp: Date? = nil, vendorId: CiString255? = nil, vendorErrorCode: CiString50? = nil
    ) {
        self.connectorId = connectorId
        self.errorCode = errorCode
        self.status = status
        self.info = info
        self.timestamp = timestamp
        self.vendorId = vendorId
        self.vendorErrorCode = vendorErrorCode
    }
}

public struct StatusNotificationResponse: OCPPResponse {
    public init() {}
}

public struct StopTransactionRequest: OCPPRequest {
    public static let action = Action.stopTransaction
    public typealias Response = StopTransactionResponse
    public var idTag: CiString20?
    public var meterStop: Int
    public var timestamp: Date
    public var transactionId: Int
    public var reason: Reason?
    public var transactionData: [MeterValue]?

    public init(
        transactionId: Int, meterStop: Int, timestamp: Date, idTag: CiString20? = nil, reason: Reason? = nil,
        transactionData: [MeterValue]? = nil
    ) {
        self.transactionId = transactionId
        self.meterStop = meterStop
        self.timestamp = timestamp
        self.idTag = idTag
        self.reason = reason
        self.transactionData = transactionData
    }
}

public struct StopTransactionResponse: OCPPResponse {
    public var idTagInfo: IdTagInfo?
    public init(idTagInfo: IdTagInfo? = nil) { self.idTagInfo = idTagInfo }
}

// Security whitepaper notifications.

public struct SecurityEventNotificationRequest: OCPPRequest {
    public static let action = Action.securityEventNotification
    public typealias Response = SecurityEventNotificationResponse
    public var type: CiString50
    public var timestamp: Date
    public var techInfo: CiString255?
    public init(type: CiString50, timestamp: Date, techInfo: CiString255? = nil) {
        self.type = type
        self.timestamp = timestamp
        self.techInfo = techInfo
    }
}

public struct SecurityEventNotificationResponse: OCPPResponse {
    public init() {}
}

public struct SignedFirmwareStatusNotificationRequest: OCPPRequest {
    public static let action = Action.signedFirmwareStatusNotification
    public typealias Response = SignedFirmwareStatusNotificationResponse
    public var status: SignedFirmwareStatus
    public var requestId: Int?
    public init(status: SignedFirmwareStatus, requestId: Int? = nil) {
        self.status = status
        self.requestId = requestId
    }
}

public struct SignedFirmwareStatusNotificationResponse: OCPPResponse {
    public init() {}
}

public struct LogStatusNotificationRequest: OCPPRequest {
    public static let action = Action.logStatusNotification
    public typealias Response = LogStatusNotificationResponse
    public var status: UploadLogStatus
    public var requestId: Int?
    public init(status: UploadLogStatus, requestId: Int? = nil) {
        self.status = status
        self.requestId = requestId
    }
}

public struct LogStatusNotificationResponse: OCPPResponse {
    public init() {}
}
