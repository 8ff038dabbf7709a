import Foundation

/// The JSON field names a message type reads, at every depth, found by decoding it with a probe that records
/// each key asked for. Derived from the types themselves, so it cannot drift from them.
///
/// ```swift
/// FieldNames.of(SetChargingProfileRequest.self)  // ["connectorId", "csChargingProfiles", "chargingProfileId", ...]
/// ```
public enum FieldNames {
    public static func of<T: Decodable>(_ type: T.Type) -> Set<String> {
        let recorder = KeyRecorder()
        _ = try? T(from: ProbeDecoder(recorder: recorder, codingPath: []))
        return recorder.keys
    }

    /// Only the top-level fields.
    public static func topLevel<T: Decodable>(of type: T.Type) -> Set<String> {
        let recorder = KeyRecorder()
        recorder.maximumDepth = 0
        _ = try? T(from: ProbeDecoder(recorder: recorder, codingPath: []))
        return recorder.keys
    }
}

extension CodingUserInfoKey {
    /// Set while ``FieldNames`` probes a type: spec enums then decode as their first case.
    static let fieldNameProbe = CodingUserInfoKey(rawValue: "ocpp.fieldNameProbe")!
}

private final class KeyRecorder {
    var keys: Set<String> = []
    var maximumDepth = Int.max

    func record(_ key: any CodingKey, at path: [any CodingKey]) {
        if path.count <= maximumDepth { keys.insert(key.stringValue) }
    }
}

/// Answers every request with a placeholder and records the keys.
private struct ProbeDecoder: Decoder {
    let recorder: KeyRecorder
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [.fieldNameProbe: true] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedProbe<Key>(recorder: recorder, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        UnkeyedProbe(recorder: recorder, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleProbe(recorder: recorder, codingPath: codingPath)
    }
}

private func placeholder<T: Decodable>(_ type: T.Type, _ recorder: KeyRecorder, _ path: [any CodingKey]) throws -> T {
    switch type {
    case is String.Type: return "" as! T
    case is Bool.Type: return false as! T
    case is Int.Type: return 0 as! T
    case is Double.Type: return 0.0 as! T
    case is Date.Type: return Date(timeIntervalSince1970: 0) as! T
    default: return try T(from: ProbeDecoder(recorder: recorder, codingPath: path))
    }
}

private struct KeyedProbe<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let recorder: KeyRecorder
    let codingPath: [any CodingKey]
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool {
        recorder.record(key, at: codingPath)
        return true
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        recorder.record(key, at: codingPath)
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        recorder.record(key, at: codingPath)
        return try placeholder(type, recorder, codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        recorder.record(key, at: codingPath)
        return KeyedDecodingContainer(KeyedProbe<NestedKey>(recorder: recorder, codingPath: codingPath + [key]))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        recorder.record(key, at: codingPath)
        return UnkeyedProbe(recorder: recorder, codingPath: codingPath + [key])
    }

    func superDecoder() throws -> any Decoder { ProbeDecoder(recorder: recorder, codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { ProbeDecoder(recorder: recorder, codingPath: codingPath + [key]) }
}

/// An array of exactly one element, so the element type is probed too.
private struct UnkeyedProbe: UnkeyedDecodingContainer {
    let recorder: KeyRecorder
    let codingPath: [any CodingKey]
    var count: Int? { 1 }
    var isAtEnd: Bool { currentIndex >= 1 }
    var currentIndex = 0

    init(recorder: KeyRecorder, codingPath: [any CodingKey]) {
        self.recorder = recorder
        self.codingPath = codingPath
    }

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        currentIndex += 1
        return try placeholder(type, recorder, codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        currentIndex += 1
        return KeyedDecodingContainer(KeyedProbe<NestedKey>(recorder: recorder, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        currentIndex += 1
        return UnkeyedProbe(recorder: recorder, codingPath: codingPath)
    }

    mutating func superDecoder() throws -> any Decoder { ProbeDecoder(recorder: recorder, codingPath: codingPath) }
}

private struct SingleProbe: SingleValueDecodingContainer {
    let recorder: KeyRecorder
    let codingPath: [any CodingKey]
    func decodeNil() -> Bool { false }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try placeholder(type, recorder, codingPath) }
}
