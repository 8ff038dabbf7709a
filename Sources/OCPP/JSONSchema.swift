import Foundation

/// A JSON schema (draft 06) as far as the OCPP schemas use it, compiled once and checked against payloads:
/// `type`, `properties`, `required`, `additionalProperties: false`, `enum`, `maxLength`/`minLength`,
/// `minimum`/`maximum`, `items`, `minItems`/`maxItems`, `format: date-time`, and `$ref` to `#/definitions/...`.
/// A keyword it does not know is ignored (as draft 06 says of unknown keywords), so a schema never fails to load for
/// documentation it carries.
///
/// ```swift
/// let schema = try JSONSchema(json: text)
/// if let violation = schema.check(payload) { answer(callError: violation.kind.callErrorCode201) }
/// ```
public struct JSONSchema: Sendable {
    /// One schema node, compiled.
    struct Node: Sendable {
        var types: Set<String>?
        var properties: [String: Node] = [:]
        var required: [String] = []
        var closed = false
        /// `items`, when given (an array of one: a node cannot hold itself).
        var items: [Node] = []
        var minItems: Int?
        var maxItems: Int?
        var minLength: Int?
        var maxLength: Int?
        var minimum: Double?
        var maximum: Double?
        var allowed: [JSONValue]?
        var dateTime = false
        /// `$ref`: the name of a definition.
        var reference: String?
    }

    let root: Node
    let definitions: [String: Node]

    /// A schema that is not one this type can read.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(json: String) throws(Invalid) {
        guard case .object(let object)? = JSONValue.parse(Array(json.utf8)) else { throw Invalid(description: "not a JSON object") }
        var definitions: [String: Node] = [:]
        if case .object(let list)? = object["definitions"] {
            for (name, value) in list { definitions[name] = try Self.compile(value, at: "definitions/\(name)") }
        }
        self.root = try Self.compile(.object(object), at: "")
        self.definitions = definitions
        for reference in Self.references(root) + definitions.values.flatMap(Self.references) where definitions[reference] == nil {
            throw Invalid(description: "$ref to #/definitions/\(reference), which is not defined")
        }
    }

    private static func references(_ node: Node) -> [String] {
        (node.reference.map { [$0] } ?? []) + node.properties.values.flatMap(references) + node.items.flatMap(references)
    }

    private static func compile(_ value: JSONValue, at place: String) throws(Invalid) -> Node {
        guard case .object(let object) = value else { throw Invalid(description: "\(place): a schema must be an object") }
        var node = Node()
        func integer(_ key: String) -> Int? { if case .int(let n)? = object[key] { n } else { nil } }
        func number(_ key: String) -> Double? {
            switch object[key] {
            case .int(let n)?: Double(n)
            case .double(let n)?: n
            default: nil
            }
        }
        switch object["type"] {
        case .string(let type)?: node.types = [type]
        case .array(let types)?: node.types = Set(types.compactMap { if case .string(let t) = $0 { t } else { nil } })
        default: break
        }
        if case .object(let properties)? = object["properties"] {
            for (name, schema) in properties { node.properties[name] = try compile(schema, at: "\(place)/properties/\(name)") }
        }
        if case .array(let required)? = object["required"] {
            node.required = required.compactMap { if case .string(let name) = $0 { name } else { nil } }
        }
        node.closed = object["additionalProperties"] == .bool(false)
        if let items = object["items"] { node.items = [try compile(items, at: "\(place)/items")] }
        node.minItems = integer("minItems")
        node.maxItems = integer("maxItems")
        node.minLength = integer("minLength")
        node.maxLength = integer("maxLength")
        node.minimum = number("minimum")
        node.maximum = number("maximum")
        if case .array(let allowed)? = object["enum"] { node.allowed = allowed }
        node.dateTime = object["format"] == .string("date-time")
        if case .string(let reference)? = object["$ref"] {
            let prefix = "#/definitions/"
            guard reference.hasPrefix(prefix) else { throw Invalid(description: "\(place): only #/definitions/ references are read") }
            node.reference = String(reference.dropFirst(prefix.count))
        }
        return node
    }

    /// The first way `payload` breaks the schema, or nil when it fits.
    public func check(_ payload: JSONValue) -> SchemaViolation? {
        // Members in any order first (no sorting, no path strings: the common case is a payload that fits); a
        // payload that does not is checked again with members in name order, so the violation named is always the same.
        var path: [PathComponent] = []
        guard check(payload, against: root, at: &path, sorted: false) != nil else { return nil }
        path.removeAll()
        return check(payload, against: root, at: &path, sorted: true)
    }

    /// Checks the JSON text of a payload; text that is not JSON is a format violation.
    public func check(json bytes: some Collection<UInt8>) -> SchemaViolation? {
        guard let payload = JSONValue.parse(bytes) else {
            return SchemaViolation(kind: .format, path: "", message: "the payload is not JSON")
        }
        return check(payload)
    }

    /// A step of the path to a value, made into text only for a violation.
    private enum PathComponent {
        case member(String)
        case element(Int)
    }

    private static func render(_ path: [PathComponent]) -> String {
        var text = ""
        for component in path {
            switch component {
            case .member(let name): text += text.isEmpty ? name : ".\(name)"
            case .element(let index): text += "[\(index)]"
            }
        }
        return text
    }

    private func check(_ value: JSONValue, against node: Node, at path: inout [PathComponent], sorted: Bool) -> SchemaViolation? {
        func violation(_ kind: SchemaViolation.Kind, _ message: String) -> SchemaViolation {
            SchemaViolation(kind: kind, path: Self.render(path), message: message)
        }
        if let reference = node.reference, let definition = definitions[reference] {
            if let violation = check(value, against: definition, at: &path, sorted: sorted) { return violation }
        }
        if let types = node.types, !types.contains(where: { Self.isOfType(value, $0) }) {
            return violation(.type, "must be \(types.sorted().joined(separator: " or ")), not \(Self.typeName(value))")
        }
        if let allowed = node.allowed, !allowed.contains(value) {
            return violation(.property, "\(value.text) is not one of the values allowed")
        }
        switch value {
        case .object(let members):
            for name in node.required where members[name] == nil {
                path.append(.member(name))
                return violation(.occurrence, "is required")
            }
            func member(_ name: String, _ member: JSONValue) -> SchemaViolation? {
                path.append(.member(name))
                defer { path.removeLast() }
                if let property = node.properties[name] {
                    return check(member, against: property, at: &path, sorted: sorted)
                } else if node.closed {
                    return violation(.format, "is not a field of this message")
                }
                return nil
            }
            if sorted {
                for name in members.keys.sorted() {
                    if let violation = member(name, members[name]!) { return violation }
                }
            } else {
                for (name, value) in members {
                    if let violation = member(name, value) { return violation }
                }
            }
        case .array(let elements):
            if let minItems = node.minItems, elements.count < minItems {
                return violation(.occurrence, "needs at least \(minItems) elements, not \(elements.count)")
            }
            if let maxItems = node.maxItems, elements.count > maxItems {
                return violation(.occurrence, "takes at most \(maxItems) elements, not \(elements.count)")
            }
            if let items = node.items.first {
                for (index, element) in elements.enumerated() {
                    path.append(.element(index))
                    defer { path.removeLast() }
                    if let violation = check(element, against: items, at: &path, sorted: sorted) { return violation }
                }
            }
        case .string(let text):
            if node.maxLength != nil || node.minLength != nil {
                let length = text.unicodeScalars.count
                if let maxLength = node.maxLength, length > maxLength {
                    return violation(.property, "is \(length) characters long, at most \(maxLength) allowed")
                }
                if let minLength = node.minLength, length < minLength {
                    return violation(.property, "is \(length) characters long, at least \(minLength) needed")
                }
            }
            if node.dateTime, OCPPDateTime.parse(text) == nil {
                return violation(.format, "is not a date-time (RFC 3339)")
            }
        case .int, .double:
            let number: Double = if case .int(let n) = value { Double(n) } else if case .double(let n) = value { n } else { 0 }
            if let minimum = node.minimum, number < minimum {
                return violation(.property, "is below the minimum \(minimum)")
            }
            if let maximum = node.maximum, number > maximum {
                return violation(.property, "is above the maximum \(maximum)")
            }
        case .bool, .null:
            break
        }
        return nil
    }

    private static func isOfType(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): true
        case ("integer", .int): true
        case ("integer", .double(let n)): n.rounded() == n
        case ("number", .int), ("number", .double): true
        default: false
        }
    }

    private static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .bool: "a boolean"
        case .null: "null"
        case .int: "an integer"
        case .double: "a number"
        }
    }
}

/// How a payload breaks its schema: what kind of fault (which decides the CallError), where, and why.
public struct SchemaViolation: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// A field of the wrong JSON type.
        case type
        /// A required field missing, or an array with too few or too many elements.
        case occurrence
        /// A value outside its constraints: not one of an enum's values, too long, out of range.
        case property
        /// Not JSON, a field the message does not have, or a date-time that is not one.
        case format

        /// The CallError OCPP-J 2.0.1 (section 4.3) names for it.
        public var callErrorCode201: CallErrorCode {
            switch self {
            case .type: .typeConstraintViolation
            case .occurrence: .occurrenceConstraintViolation
            case .property: .propertyConstraintViolation
            case .format: .formatViolation
            }
        }
    }

    public var kind: Kind
    /// Where: the field's path (`chargingStation.model`, `meterValue[0].sampledValue`), empty for the payload itself.
    public var path: String
    public var message: String

    public init(kind: Kind, path: String, message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path) \(message)" }
}
