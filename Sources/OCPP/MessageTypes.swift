/// The typed request of every action this package implements, for code that starts from an action name
/// (the MQTT bridge's commands, tests).
public enum MessageTypes {
    /// The request type sent as `action`, or `nil` for the security-whitepaper actions the gateway does not
    /// implement (certificates, logs, signed firmware updates).
    public static func requestType(for action: Action) -> (any OCPPRequest.Type)? {
        switch action {
        case .authorize: AuthorizeRequest.self
        case .bootNotification: BootNotificationRequest.self
        case .dataTransfer: DataTransferRequest.self
        case .diagnosticsStatusNotification: DiagnosticsStatusNotificationRequest.self
        case .firmwareStatusNotification: FirmwareStatusNotificationRequest.self
        case .heartbeat: HeartbeatRequest.self
        case .meterValues: MeterValuesRequest.self
        case .startTransaction: StartTransactionRequest.self
        case .statusNotification: StatusNotificationRequest.self
        case .stopTransaction: StopTransactionRequest.self
        case .cancelReservation: CancelReservationRequest.self
        case .changeAvailability: ChangeAvailabilityRequest.self
        case .changeConfiguration: ChangeConfigurationRequest.self
        case .clearCache: ClearCacheRequest.self
        case .clearChargingProfile: ClearChargingProfileRequest.self
        case .getCompositeSchedule: GetCompositeScheduleRequest.self
        case .getConfiguration: GetConfigurationRequest.self
        case .getDiagnostics: GetDiagnosticsRequest.self
        case .getLocalListVersion: GetLocalListVersionRequest.self
        case .remoteStartTransaction: RemoteStartTransactionRequest.self
        case .remoteStopTransaction: RemoteStopTransactionRequest.self
        case .reserveNow: ReserveNowRequest.self
        case .reset: ResetRequest.self
        case .sendLocalList: SendLocalListRequest.self
        case .setChargingProfile: SetChargingProfileRequest.self
        case .triggerMessage: TriggerMessageRequest.self
        case .unlockConnector: UnlockConnectorRequest.self
        case .updateFirmware: UpdateFirmwareRequest.self
        case .logStatusNotification: LogStatusNotificationRequest.self
        case .securityEventNotification: SecurityEventNotificationRequest.self
        case .signedFirmwareStatusNotification: SignedFirmwareStatusNotificationRequest.self
        case .signCertificate, .certificateSigned, .deleteCertificate, .extendedTriggerMessage,
            .getInstalledCertificateIds, .getLog, .installCertificate, .signedUpdateFirmware:
            nil
        }
    }

    /// The response type answering `action`.
    public static func responseType(for action: Action) -> (any OCPPResponse.Type)? {
        requestType(for: action).map { responseType(of: $0) }
    }

    private static func responseType<R: OCPPRequest>(of _: R.Type) -> any OCPPResponse.Type {
        R.Response.self
    }
}
