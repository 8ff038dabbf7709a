import Foundation

/// A purpose-built decoder for the messages chargers send all day (MeterValues, StatusNotification, Heartbeat),
/// and a direct encoder for their answers: one pass over the payload's bytes with ``JSONScanner``, no Foundation
/// round trip.
///
/// The fast path never decides a fault. It returns a value only for a payload it fully understands (known
/// fields, each once, plain ASCII strings, integer numbers, valid enum values, no nulls); for anything else it
/// returns nil and ``PayloadCoding`` takes the general path, which reads unknown fields, escapes and the rest and
/// names the precise CallError. A property test checks that whenever the fast path returns a value, the general
/// path returns the same one.
protocol FastPathDecodable {
    static func fastDecode(_ scanner: inout JSONScanner) -> Self?
}

/// An answer whose payload is written directly.
protocol FastPathEncodable {
    func fastEncode() -> RawJSON
}

/// A request the frame decoder read on the fast path.
enum FastPathRequest: Sendable {
    case meterValues(MeterValuesRequest)
    case statusNotification(StatusNotificationRequest)
    case heartbeat

    /// The request as `T`; nil when it is another type. Typed, not through `Any`: a MeterValuesRequest does not
    /// fit an existential's inline buffer, so that would be an allocation per message.
    func value<T>(as _: T.Type) -> T? {
        switch self {
        case .meterValues(let request): request as? T
        case .statusNotification(let request): request as? T
        case .heartbeat: HeartbeatRequest() as? T
        }
    }

    /// Reads the payload of a CALL of `action` when it has a fast path and fits it, leaving the scanner after the
    /// payload; nil otherwise (the scanner is then anywhere in the payload). What it accepts is valid JSON: plain
    /// ASCII strings, integers without leading zeros, objects and arrays, nothing else.
    static func decode(action: String, _ scanner: inout JSONScanner) -> FastPathRequest? {
        switch action {
        case "MeterValues": MeterValuesRequest.fastDecode(&scanner).map { .meterValues($0) }
        case "StatusNotification": StatusNotificationRequest.fastDecode(&scanner).map { .statusNotification($0) }
        case "Heartbeat": HeartbeatRequest.fastDecode(&scanner).map { _ in .heartbeat }
        default: nil
        }
    }
}

enum FastPath {
    /// The value, when `T` has a fast path and the payload fits it.
    static func decode<T>(_ type: T.Type, from payload: RawJSON) -> T? {
        guard let fast = type as? any FastPathDecodable.Type else { return nil }
        return payload.bytes.withUnsafeBytes { raw -> T? in
            var scanner = JSONScanner(raw.bindMemory(to: UInt8.self))
            guard let value = fast.fastDecode(&scanner), scanner.peekSignificant() == nil else { return nil }
            return value as? T
        }
    }

    static func encode<T>(_ value: T) -> RawJSON? {
        (value as? any FastPathEncodable)?.fastEncode()
    }
}

extension JSONScanner {
    /// Reads an object, handing each key to `field`, which reads the value and returns false to give up.
    /// Gives up on a key longer than 16 bytes (no field the fast path knows is) or not plain ASCII.
    mutating func readObject(_ field: (inout JSONScanner, FieldName) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        repeat {
            guard let key = plainBytes().flatMap(FieldName.init), consume(UInt8(ascii: ":")), field(&self, key)
            else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    /// Reads an array, handing each element to `element`, which returns false to give up.
    mutating func readArray(_ element: (inout JSONScanner) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "[")) else { return false }
        if consume(UInt8(ascii: "]")) { return true }
        repeat {
            guard element(&self) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]"))
    }

    /// The content of a string of printable ASCII without escapes; nil for anything else (the general path
    /// reads those). The bytes are the scanner's own: valid while the scanner's buffer is.
    mutating func plainBytes() -> UnsafeBufferPointer<UInt8>? {
        guard peekSignificant() == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") { break }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            end += 1
        }
        guard end < bytes.count else { return nil }
        advance(to: end + 1)
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }

    mutating func plainString() -> String? {
        plainBytes().map { String(decoding: $0, as: UTF8.self) }
    }

    /// An enum value matched on the payload's bytes: no string made, no hashing.
    mutating func specEnum<E: FastPathEnum>(_: E.Type) -> E? {
        plainBytes().flatMap(E.byteNames.value)
    }

    mutating func dateTime() -> Date? {
        plainBytes().flatMap(OCPPDateTime.parse)
    }
}

/// An object key of at most 16 bytes, packed into two words so that matching it is two comparisons.
struct FieldName: Equatable {
    private let low: UInt64
    private let high: UInt64

    /// Nil for a key longer than 16 bytes. Plain keys hold no zero byte, so the zero padding cannot make two keys
    /// of different lengths equal.
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= 16 else { return nil }
        var low: UInt64 = 0, high: UInt64 = 0
        for (offset, byte) in bytes.enumerated() {
            if offset < 8 {
                low |= UInt64(byte) << (8 * offset)
            } else {
                high |= UInt64(byte) << (8 * (offset - 8))
            }
        }
        self.low = low
        self.high = high
    }

    /// A key from its packed words (`FastPathTests` checks each constant below against its name).
    private init(packed low: UInt64, _ high: UInt64) {
        self.low = low
        self.high = high
    }

    // The keys the fast path matches, as packed words: constants the compiler lays out in the binary. Made from their
    // names at run time, each was a lazily initialised global, and every comparison in a `switch` over keys called
    // `swift_once` (1 % of the CPU at saturation).
    static let connectorId = FieldName(packed: 0x6F7463656E6E6F63, 0x0000000000644972)  // "connectorId"
    static let transactionId = FieldName(packed: 0x746361736E617274, 0x00000064496E6F69)  // "transactionId"
    static let meterValue = FieldName(packed: 0x6C6156726574656D, 0x0000000000006575)  // "meterValue"
    static let timestamp = FieldName(packed: 0x6D617473656D6974, 0x0000000000000070)  // "timestamp"
    static let sampledValue = FieldName(packed: 0x5664656C706D6173, 0x0000000065756C61)  // "sampledValue"
    static let value = FieldName(packed: 0x00000065756C6176, 0x0000000000000000)  // "value"
    static let context = FieldName(packed: 0x00747865746E6F63, 0x0000000000000000)  // "context"
    static let format = FieldName(packed: 0x000074616D726F66, 0x0000000000000000)  // "format"
    static let measurand = FieldName(packed: 0x6E6172757361656D, 0x0000000000000064)  // "measurand"
    static let phase = FieldName(packed: 0x0000006573616870, 0x0000000000000000)  // "phase"
    static let location = FieldName(packed: 0x6E6F697461636F6C, 0x0000000000000000)  // "location"
    static let unit = FieldName(packed: 0x0000000074696E75, 0x0000000000000000)  // "unit"
    static let errorCode = FieldName(packed: 0x646F43726F727265, 0x0000000000000065)  // "errorCode"
    static let status = FieldName(packed: 0x0000737574617473, 0x0000000000000000)  // "status"
    static let info = FieldName(packed: 0x000000006F666E69, 0x0000000000000000)  // "info"
    static let vendorId = FieldName(packed: 0x6449726F646E6576, 0x0000000000000000)  // "vendorId"
    static let vendorErrorCode = FieldName(packed: 0x7245726F646E6576, 0x0065646F43726F72)  // "vendorErrorCode"
}

/// An enum the fast path reads: its values' names as bytes, made once.
protocol FastPathEnum: SpecEnum {
    static var byteNames: ByteNames<Self> { get }
}

/// Every value of an enum with its name's bytes, to match a payload's bytes against (length first, then the
/// bytes). Exact, like `init(rawValue:)`.
struct ByteNames<E: SpecEnum>: Sendable {
    private let names: [(bytes: [UInt8], value: E)]

    init() {
        names = E.allCases.map { (Array($0.rawValue.utf8), $0) }
    }

    func value(_ bytes: UnsafeBufferPointer<UInt8>) -> E? {
        for name in names where name.bytes.count == bytes.count {
            let equal = name.bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }
            if equal { return name.value }
        }
        return nil
    }
}

extension ReadingContext: FastPathEnum { static let byteNames = ByteNames<Self>() }
extension ValueFormat: FastPathEnum { static let byteNames = ByteNames<Self>() }
extension Measurand: FastPathEnum { static let byteNames = ByteNames<Self>() }
extension Phase: FastPathEnum { static let byteNames = ByteNames<Self>() }
extension Location: FastPathEnum { static let byteNames = ByteNames<Self>() }
extension UnitOfMeasure: FastPathEnum { static let byteNames = ByteNames<Self>() }
extension ChargePointErrorCode: FastPathEnum { static let byteNames = ByteNames<Self>() }
extension ChargePointStatus: FastPathEnum { static let byteNames = ByteNames<Self>() }

/// Marks each field once; a second sighting gives up.
private struct SeenFields {
    private var bits: UInt64 = 0
    mutating func first(_ bit: Int) -> Bool {
        let mask: UInt64 = 1 << bit
        defer { bits |= mask }
        return bits & mask == 0
    }
    func has(_ bit: Int) -> Bool { bits & (1 << bit) != 0 }
}

extension MeterValuesRequest: FastPathDecodable {
    static func fastDecode(_ scanner: inout JSONScanner) -> MeterValuesRequest? {
        var seen = SeenFields()
        var connectorId = 0, transactionId: Int?, meterValue: [MeterValue] = []
        let read = scanner.readObject { scanner, key in
            switch key {
            case .connectorId:
                guard seen.first(0), let value = scanner.scanInteger() else { return false }
                connectorId = value
            case .transactionId:
                guard seen.first(1), let value = scanner.scanInteger() else { return false }
                transactionId = value
            case .meterValue:
                guard seen.first(2) else { return false }
                return scanner.readArray { scanner in
                    guard let value = MeterValue.fastDecode(&scanner) else { return false }
                    meterValue.append(value)
                    return true
                }
            default:
                return false
            }
            return true
        }
        guard read, seen.has(0), !meterValue.isEmpty else { return nil }
        return MeterValuesRequest(connectorId: connectorId, transactionId: transactionId, meterValue: meterValue)
    }
}

extension MeterValue: FastPathDecodable {
    static func fastDecode(_ scanner: inout JSONScanner) -> MeterValue? {
        var seen = SeenFields()
        var timestamp: Date?, sampledValue: [SampledValue] = []
        let read = scanner.readObject { scanner, key in
            switch key {
            case .timestamp:
                guard seen.first(0), let value = scanner.dateTime() else { return false }
                timestamp = value
            case .sampledValue:
                guard seen.first(1) else { return false }
                sampledValue.reserveCapacity(8)
                return scanner.readArray { scanner in
                    guard let value = SampledValue.fastDecode(&scanner) else { return false }
                    sampledValue.append(value)
                    return true
                }
            default:
                return false
            }
            return true
        }
        guard read, let timestamp, !sampledValue.isEmpty else { return nil }
        return MeterValue(timestamp: timestamp, sampledValue: sampledValue)
    }
}

extension SampledValue: FastPathDecodable {
    static func fastDecode(_ scanner: inout JSONScanner) -> SampledValue? {
        var seen = SeenFields()
        var value = SampledValue(value: "")
        let read = scanner.readObject { scanner, key in
            switch key {
            case .value:
                guard seen.first(0), let text = scanner.plainString() else { return false }
                value.value = text
            case .context:
                guard seen.first(1), let context = scanner.specEnum(ReadingContext.self) else { return false }
                value.context = context
            case .format:
                guard seen.first(2), let format = scanner.specEnum(ValueFormat.self) else { return false }
                value.format = format
            case .measurand:
                guard seen.first(3), let measurand = scanner.specEnum(Measurand.self) else { return false }
                value.measurand = measurand
            case .phase:
                guard seen.first(4), let phase = scanner.specEnum(Phase.self) else { return false }
                value.phase = phase
            case .location:
                guard seen.first(5), let location = scanner.specEnum(Location.self) else { return false }
                value.location = location
            case .unit:
                guard seen.first(6), let unit = scanner.specEnum(UnitOfMeasure.self) else { return false }
                value.unit = unit
            default:
                return false
            }
            return true
        }
        return read && seen.has(0) ? value : nil
    }
}

extension StatusNotificationRequest: FastPathDecodable {
    static func fastDecode(_ scanner: inout JSONScanner) -> StatusNotificationRequest? {
        var seen = SeenFields()
        var request = StatusNotificationRequest(connectorId: 0, errorCode: .noError, status: .available)
        let read = scanner.readObject { scanner, key in
            switch key {
            case .connectorId:
                guard seen.first(0), let value = scanner.scanInteger() else { return false }
                request.connectorId = value
            case .errorCode:
                guard seen.first(1), let value = scanner.specEnum(ChargePointErrorCode.self) else { return false }
                request.errorCode = value
            case .status:
                guard seen.first(2), let value = scanner.specEnum(ChargePointStatus.self) else { return false }
                request.status = value
            case .info:
                guard seen.first(3), let value = scanner.plainString().flatMap({ try? CiString50($0) }) else { return false }
                request.info = value
            case .timestamp:
                guard seen.first(4), let value = scanner.dateTime() else { return false }
                request.timestamp = value
            case .vendorId:
                guard seen.first(5), let value = scanner.plainString().flatMap({ try? CiString255($0) }) else { return false }
                request.vendorId = value
            case .vendorErrorCode:
                guard seen.first(6), let value = scanner.plainString().flatMap({ try? CiString50($0) }) else { return false }
                request.vendorErrorCode = value
            default:
                return false
            }
            return true
        }
        return read && seen.has(0) && seen.has(1) && seen.has(2) ? request : nil
    }
}

extension HeartbeatRequest: FastPathDecodable {
    static func fastDecode(_ scanner: inout JSONScanner) -> HeartbeatRequest? {
        scanner.readObject { _, _ in false } ? HeartbeatRequest() : nil
    }
}

extension MeterValuesResponse: FastPathEncodable {
    func fastEncode() -> RawJSON { .emptyObject }
}

extension StatusNotificationResponse: FastPathEncodable {
    func fastEncode() -> RawJSON { .emptyObject }
}

extension HeartbeatResponse: FastPathEncodable {
    func fastEncode() -> RawJSON {
        RawJSON(validatedBytes: Data(#"{"currentTime":"\#(OCPPDateTime.format(currentTime))"}"#.utf8))
    }
}
