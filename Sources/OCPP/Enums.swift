import Foundation

// The enumerations of OCPP 1.6 edition 2, section 7, with the spec's values.

public enum AuthorizationStatus: String, SpecEnum {
    case accepted = "Accepted", blocked = "Blocked", expired = "Expired", invalid = "Invalid"
    case concurrentTx = "ConcurrentTx"
}

public enum AvailabilityStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected", scheduled = "Scheduled"
}

public enum AvailabilityType: String, SpecEnum {
    case inoperative = "Inoperative", operative = "Operative"
}

public enum CancelReservationStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected"
}

public enum ChargePointErrorCode: String, SpecEnum {
    case connectorLockFailure = "ConnectorLockFailure", evCommunicationError = "EVCommunicationError"
    case groundFailure = "GroundFailure", highTemperature = "HighTemperature", internalError = "InternalError"
    case localListConflict = "LocalListConflict", noError = "NoError", otherError = "OtherError"
    case overCurrentFailure = "OverCurrentFailure", powerMeterFailure = "PowerMeterFailure"
    case powerSwitchFailure = "PowerSwitchFailure", readerFailure = "ReaderFailure", resetFailure = "ResetFailure"
    case underVoltage = "UnderVoltage", overVoltage = "OverVoltage", weakSignal = "WeakSignal"
}

public enum ChargePointStatus: String, SpecEnum {
    case available = "Available", preparing = "Preparing", charging = "Charging", suspendedEVSE = "SuspendedEVSE"
    case suspendedEV = "SuspendedEV", finishing = "Finishing", reserved = "Reserved", unavailable = "Unavailable"
    case faulted = "Faulted"
}

public enum ChargingProfileKindType: String, SpecEnum {
    case absolute = "Absolute", recurring = "Recurring", relative = "Relative"
}

public enum ChargingProfilePurposeType: String, SpecEnum {
    case chargePointMaxProfile = "ChargePointMaxProfile", txDefaultProfile = "TxDefaultProfile"
    case txProfile = "TxProfile"
}

public enum ChargingProfileStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected", notSupported = "NotSupported"
}

public enum ChargingRateUnitType: String, SpecEnum {
    case amperes = "A", watts = "W"
}

public enum ClearCacheStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected"
}

public enum ClearChargingProfileStatus: String, SpecEnum {
    case accepted = "Accepted", unknown = "Unknown"
}

public enum ConfigurationStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected", rebootRequired = "RebootRequired", notSupported = "NotSupported"
}

public enum DataTransferStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected", unknownMessageId = "UnknownMessageId"
    case unknownVendorId = "UnknownVendorId"
}

public enum DiagnosticsStatus: String, SpecEnum {
    case idle = "Idle", uploaded = "Uploaded", uploadFailed = "UploadFailed", uploading = "Uploading"
}

public enum FirmwareStatus: String, SpecEnum {
    case downloaded = "Downloaded", downloadFailed = "DownloadFailed", downloading = "Downloading", idle = "Idle"
    case installationFailed = "InstallationFailed", installing = "Installing", installed = "Installed"
}

public enum GetCompositeScheduleStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected"
}

public enum Location: String, SpecEnum {
    case cable = "Cable", ev = "EV", inlet = "Inlet", outlet = "Outlet", body = "Body"
}

public enum Measurand: String, SpecEnum {
    case energyActiveExportRegister = "Energy.Active.Export.Register"
    case energyActiveImportRegister = "Energy.Active.Import.Register"
    case energyReactiveExportRegister = "Energy.Reactive.Export.Register"
    case energyReactiveImportRegister = "Energy.Reactive.Import.Register"
    case energyActiveExportInterval = "Energy.Active.Export.Interval"
    case energyActiveImportInterval = "Energy.Active.Import.Interval"
    case energyReactiveExportInterval = "Energy.Reactive.Export.Interval"
    case energyReactiveImportInterval = "Energy.Reactive.Import.Interval"
    case powerActiveExport = "Power.Active.Export", powerActiveImport = "Power.Active.Import"
    case powerOffered = "Power.Offered", powerReactiveExport = "Power.Reactive.Export"
    case powerReactiveImport = "Power.Reactive.Import", powerFactor = "Power.Factor"
    case currentImport = "Current.Import", currentExport = "Current.Export", currentOffered = "Current.Offered"
    case voltage = "Voltage", frequency = "Frequency", temperature = "Temperature", soc = "SoC", rpm = "RPM"
}

public enum MessageTrigger: String, SpecEnum {
    case bootNotification = "BootNotification", diagnosticsStatusNotification = "DiagnosticsStatusNotification"
    case firmwareStatusNotification = "FirmwareStatusNotification", heartbeat = "Heartbeat"
    case meterValues = "MeterValues", statusNotification = "StatusNotification"
}

public enum Phase: String, SpecEnum {
    case l1 = "L1", l2 = "L2", l3 = "L3", n = "N", l1N = "L1-N", l2N = "L2-N", l3N = "L3-N"
    case l1L2 = "L1-L2", l2L3 = "L2-L3", l3L1 = "L3-L1"
}

public enum ReadingContext: String, SpecEnum {
    case interruptionBegin = "Interruption.Begin", interruptionEnd = "Interruption.End"
    case sampleClock = "Sample.Clock", samplePeriodic = "Sample.Periodic"
    case transactionBegin = "Transaction.Begin", transactionEnd = "Transaction.End"
    case trigger = "Trigger", other = "Other"
}

public enum Reason: String, SpecEnum {
    case emergencyStop = "EmergencyStop", evDisconnected = "EVDisconnected", hardReset = "HardReset"
    case local = "Local", other = "Other", powerLoss = "PowerLoss", reboot = "Reboot", remote = "Remote"
    case softReset = "SoftReset", unlockCommand = "UnlockCommand", deAuthorized = "DeAuthorized"
}

public enum RecurrencyKindType: String, SpecEnum {
    case daily = "Daily", weekly = "Weekly"
}

public enum RegistrationStatus: String, SpecEnum {
    case accepted = "Accepted", pending = "Pending", rejected = "Rejected"
}

public enum RemoteStartStopStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected"
}

public enum ReservationStatus: String, SpecEnum {
    case accepted = "Accepted", faulted = "Faulted", occupied = "Occupied", rejected = "Rejected"
    case unavailable = "Unavailable"
}

public enum ResetStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected"
}

public enum ResetType: String, SpecEnum {
    case hard = "Hard", soft = "Soft"
}

public enum TriggerMessageStatus: String, SpecEnum {
    case accepted = "Accepted", rejected = "Rejected", notImplemented = "NotImplemented"
}

public enum UnitOfMeasure: String, SpecEnum {
    case wh = "Wh", kWh = "kWh", varh = "varh", kvarh = "kvarh", w = "W", kW = "kW", va = "VA", kVA = "kVA"
    case `var` = "var", kvar = "kvar", a = "A", v = "V", k = "K", celcius = "Celcius", celsius = "Celsius"
    case fahrenheit = "Fahrenheit", percent = "Percent", hertz = "Hertz"
}

public enum UnlockStatus: String, SpecEnum {
    case unlocked = "Unlocked", unlockFailed = "UnlockFailed", notSupported = "NotSupported"
}

public enum UpdateStatus: String, SpecEnum {
    case accepted = "Accepted", failed = "Failed", notSupported = "NotSupported", versionMismatch = "VersionMismatch"
}

public enum UpdateType: String, SpecEnum {
    case differential = "Differential", full = "Full"
}

public enum ValueFormat: String, SpecEnum {
    case raw = "Raw", signedData = "SignedData"
}

// Security whitepaper (OCPP 1.6 security extension) enumerations used by the notifications a charger may send.

public enum SignedFirmwareStatus: String, SpecEnum {
    case downloaded = "Downloaded", downloadFailed = "DownloadFailed", downloading = "Downloading"
    case downloadScheduled = "DownloadScheduled", downloadPaused = "DownloadPaused", idle = "Idle"
    case installationFailed = "InstallationFailed", installing = "Installing", installed = "Installed"
    case installRebooting = "InstallRebooting", installScheduled = "InstallScheduled"
    case installVerificationFailed = "InstallVerificationFailed", invalidSignature = "InvalidSignature"
    case signatureVerified = "SignatureVerified"
}

public enum UploadLogStatus: String, SpecEnum {
    case badMessage = "BadMessage", idle = "Idle", notSupportedOperation = "NotSupportedOperation"
    case permissionDenied = "PermissionDenied", uploaded = "Uploaded", uploadFailure = "UploadFailure"
    case uploading = "Uploading"
}
