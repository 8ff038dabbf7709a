import Foundation

// Messages the central system sends to a charge point (OCPP 1.6 edition 2 section 5). DataTransfer, which either
// side may send, is with the charge point's messages.

public struct CancelReservationRequest: OCPPRequest {
    public static let action = Action.cancelReservation
    public typealias Response = CancelReservationResponse
    public var reservationId: Int
    public init(reservationId: Int) { self.reservationId = reservationId }
}

public struct CancelReservationResponse: OCPPResponse {
    public var status: CancelReservationStatus
    public init(status: CancelReservationStatus) { self.status = status }
}

public struct ChangeAvailabilityRequest: OCPPRequest {
    public static let action = Action.changeAvailability
    public typealias Response = ChangeAvailabilityResponse
    public var connectorId: Int
    public var type: AvailabilityType
    public init(connectorId: Int, type: AvailabilityType) {
        self.connectorId = connectorId
        self.type = type
    }
}

public struct ChangeAvailabilityResponse: OCPPResponse {
    public var status: AvailabilityStatus
    public init(status: AvailabilityStatus) { self.status = status }
}

public struct ChangeConfigurationRequest: OCPPRequest {
    public static let action = Action.changeConfiguration
    public typealias Response = ChangeConfigurationResponse
    public var key: CiString50
    public var value: CiString500
    public init(key: CiString50, value: CiString500) {
        self.key = key
        self.value = value
    }
}

public struct ChangeConfigurationResponse: OCPPResponse {
    public var status: ConfigurationStatus
    public init(status: ConfigurationStatus) { self.status = status }
}

public struct ClearCacheRequest: OCPPRequest {
    public static let action = Action.clearCache
    public typealias Response = ClearCacheResponse
    public init() {}
}

public struct ClearCacheResponse: OCPPResponse {
    public var status: ClearCacheStatus
    public init(status: ClearCacheStatus) { self.status = status }
}

public struct ClearChargingProfileRequest: OCPPRequest {
    public static let action = Action.clearChargingProfile
    public typealias Response = ClearChargingProfileResponse
    public var id: Int?
    public var connectorId: Int?
    public var chargingProfilePurpose: ChargingProfilePurposeType?
    public var stackLevel: Int?
    public init(
        id: Int? = nil, connectorId: Int? = nil, chargingProfilePurpose: ChargingProfilePurposeType? = nil,
        stackLevel: Int? = nil
    ) {
        self.id = id
        self.connectorId = connectorId
        self.chargingProfilePurpose = chargingProfilePurpose
        self.stackLevel = stackLevel
    }
}

public struct ClearChargingProfileResponse: OCPPResponse {
    public var status: ClearChargingProfileStatus
    public init(status: ClearChargingProfileStatus) { self.status = status }
}

public struct GetCompositeScheduleRequest: OCPPRequest {
    public static let action = Action.getCompositeSchedule
    public typealias Response = GetCompositeScheduleResponse
    public var connectorId: Int
    public var duration: Int
    public var chargingRateUnit: ChargingRateUnitType?
    public init(connectorId: Int, duration: Int, chargingRateUnit: ChargingRateUnitType? = nil) {
        self.connectorId = connectorId
        self.duration = duration
        self.chargingRateUnit = chargingRateUnit
    }
}

public struct GetCompositeScheduleResponse: OCPPResponse {
    public var status: GetCompositeScheduleStatus
    public var connectorId: Int?
    public var scheduleStart: Date?
    public var chargingSchedule: ChargingSchedule?
    public init(
        status: GetCompositeScheduleStatus, connectorId: Int? = nil, scheduleStart: Date? = nil,
        chargingSchedule: ChargingSchedule? = nil
    ) {
        self.status = status
        self.connectorId = connectorId
        self.scheduleStart = scheduleStart
        self.chargingSchedule = chargingSchedule
    }
}

public struct GetConfigurationRequest: OCPPRequest {
    public static let action = Action.getConfiguration
    public typealias Response = GetConfigurationResponse
    public var key: [CiString50]?
    public init(key: [CiString50]? = nil) { self.key = key }
}

public struct GetConfigurationResponse: OCPPResponse {
    public var configurationKey: [KeyValue]?
    public var unknownKey: [CiString50]?
    public init(configurationKey: [KeyValue]? = nil, unknownKey: [CiString50]? = nil) {
        self.configurationKey = configurationKey
        self.unknownKey = unknownKey
    }
}

public struct GetDiagnosticsRequest: OCPPRequest {
    public static let action = Action.getDiagnostics
    public typealias Response = GetDiagnosticsResponse
    public var location: String
    public var retries: Int?
    public var retryInterval: Int?
    public var startTime: Date?
    public var stopTime: Date?
    public init(
        location: String, retries: Int? = nil, retryInterval: Int? = nil, startTime: Date? = nil, stopTime: Date? = nil
    ) {
        self.location = location
        self.retries = retries
        self.retryInterval = retryInterval
        self.startTime = startTime
        self.stopTime = stopTime
    }
}

public struct GetDiagnosticsResponse: OCPPResponse {
    public var fileName: CiString255?
    public init(fileName: CiString255? = nil) { self.fileName = fileName }
}

public struct GetLocalListVersionRequest: OCPPRequest {
    public static let action = Action.getLocalListVersion
    public typealias Response = GetLocalListVersionResponse
    public init() {}
}

public struct GetLocalListVersionResponse: OCPPResponse {
    public var listVersion: Int
    public init(listVersion: Int) { self.listVersion = listVersion }
}

public struct RemoteStartTransactionRequest: OCPPRequest {
    public static let action = Action.remoteStartTransaction
    public typealias Response = RemoteStartTransactionResponse
    public var connectorId: Int?
    public var idTag: CiString20
    public var chargingProfile: ChargingProfile?
    public init(idTag: CiString20, connectorId: Int? = nil, chargingProfile: ChargingProfile? = nil) {
        self.idTag = idTag
        self.connectorId = connectorId
        self.chargingProfile = chargingProfile
    }
}

public struct RemoteStartTransactionResponse: OCPPResponse {
    public var status: RemoteStartStopStatus
    public init(status: RemoteStartStopStatus) { self.status = status }
}

public struct RemoteStopTransactionRequest: OCPPRequest {
    public static let action = Action.remoteStopTransaction
    public typealias Response = RemoteStopTransactionResponse
    public var transactionId: Int
    public init(transactionId: Int) { self.transactionId = transactionId }
}

public struct RemoteStopTransactionResponse: OCPPResponse {
    public var status: RemoteStartStopStatus
    public init(status: RemoteStartStopStatus) { self.status = status }
}

public struct ReserveNowRequest: OCPPRequest {
    public static let action = Action.reserveNow
    public typealias Response = ReserveNowResponse
    public var connectorId: Int
    public var expiryDate: Date
    public var idTag: CiString20
    public var parentIdTag: CiString20?
    public var reservationId: Int
    public init(
        connectorId: Int, expiryDate: Date, idTag: CiString20, reservationId: Int, parentIdTag: CiString20? = nil
    ) {
        self.connectorId = connectorId
        self.expiryDate = expiryDate
        self.idTag = idTag
        self.reservationId = reservationId
        self.parentIdTag = parentIdTag
    }
}

public struct ReserveNowResponse: OCPPResponse {
    public var status: ReservationStatus
    public init(status: ReservationStatus) { self.status = status }
}

public struct ResetRequest: OCPPRequest {
    public static let action = Action.reset
    public typealias Response = ResetResponse
    public var type: ResetType
    public init(type: ResetType) { self.type = type }
}

public struct ResetResponse: OCPPResponse {
    public var status: ResetStatus
    public init(status: ResetStatus) { self.status = status }
}

public struct SendLocalListRequest: OCPPRequest {
    public static let action = Action.sendLocalList
    public typealias Response = SendLocalListResponse
    public var listVersion: Int
    public var localAuthorizationList: [AuthorizationData]?
    public var updateType: UpdateType
    public init(listVersion: Int, updateType: UpdateType, localAuthorizationList: [AuthorizationData]? = nil) {
        self.listVersion = listVersion
        self.updateType = updateType
        self.localAuthorizationList = localAuthorizationList
    }
}

public struct SendLocalListResponse: OCPPResponse {
    public var status: UpdateStatus
    public init(status: UpdateStatus) { self.status = status }
}

public struct SetChargingProfileRequest: OCPPRequest {
    public static let action = Action.setChargingProfile
    public typealias Response = SetChargingProfileResponse
    public var connectorId: Int
    public var csChargingProfiles: ChargingProfile
    public init(connectorId: Int, csChargingProfiles: ChargingProfile) {
        self.connectorId = connectorId
        self.csChargingProfiles = csChargingProfiles
    }
}

public struct SetChargingProfileResponse: OCPPResponse {
    public var status: ChargingProfileStatus
    public init(status: ChargingProfileStatus) { self.status = status }
}

public struct TriggerMessageRequest: OCPPRequest {
    public static let action = Action.triggerMessage
    public typealias Response = TriggerMessageResponse
    public var requestedMessage: MessageTrigger
    public var connectorId: Int?
    public init(requestedMessage: MessageTrigger, connectorId: Int? = nil) {
        self.requestedMessage = requestedMessage
        self.connectorId = connectorId
    }
}

public struct TriggerMessageResponse: OCPPResponse {
    public var status: TriggerMessageStatus
    public init(status: TriggerMessageStatus) { self.status = status }
}

public struct UnlockConnectorRequest: OCPPRequest {
    public static let action = Action.unlockConnector
    public typealias Response = UnlockConnectorResponse
    public var connectorId: Int
    public init(connectorId: Int) { self.connectorId = connectorId }
}

public struct UnlockConnectorResponse: OCPPResponse {
    public var status: UnlockStatus
    public init(status: UnlockStatus) { self.status = status }
}

public struct UpdateFirmwareRequest: OCPPRequest {
    public static let action = Action.updateFirmware
    public typealias Response = UpdateFirmwareResponse
    public var location: String
    public var retries: Int?
    public var retrieveDate: Date
    public var retryInterval: Int?
    public init(location: String, retrieveDate: Date, retries: Int? = nil, retryInterval: Int? = nil) {
        self.location = location
        self.retrieveDate = retrieveDate
        self.retries = retries
        self.retryInterval = retryInterval
    }
}

public struct UpdateFirmwareResponse: OCPPResponse {
    public init() {}
}
