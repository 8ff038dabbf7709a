import Foundation

/// Why an incoming frame could not be read, and how to answer it.
public struct FrameDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The CallError code OCPP-J 1.6 names for the fault.
    public var code: CallErrorCode
    /// What was wrong, precise enough for a CallError description and a log line.
    public var reason: String
    /// The message id to answer with a CALLERROR, or `nil` when the frame must not be answered (a broken
    /// CALLRESULT or CALLERROR, or an unknown message type, which OCPP-J says to ignore). When the frame is
    /// answered but its id could not be read, this is `"-1"`.
    public var replyMessageID: String?

    public var description: String { "\(code): \(reason)" }

    /// The CALLERROR to send back, if the frame is to be answered.
    public var reply: CallError? {
        replyMessageID.map { CallError(messageID: $0, code: code, description: reason) }
    }
}

/// Reads and writes OCPP-J frames.
///
/// Decoding validates the whole text as JSON in one pass, checks the envelope and keeps each payload as raw bytes;
/// the payload is decoded into its typed message later, by ``PayloadCoding``, once its action is known. The
/// exception is the fast path's CALLs (MeterValues, StatusNotification, Heartbeat in their usual form): their
/// payload is read in the same pass, and ``Call/decodePayload(as:)`` hands the reading over.
///
/// ```swift
/// let frame = try FrameCodec.decode(Array(#"[2,"1","Heartbeat",{}]"#.utf8))
/// let text = FrameCodec.encode(.callResult(CallResult(messageID: "1", payload: .emptyObject)))
/// ```
public enum FrameCodec {
    /// The message id used to answer a frame whose own id could not be read.
    public static let unknownMessageID = "-1"

    /// Decodes one frame from the bytes of a WebSocket text message.
    public static func decode(_ bytes: some Collection<UInt8>) throws(FrameDecodingError) -> Frame {
        let result: Result<Frame, FrameDecodingError>? = bytes.withContiguousStorageIfAvailable { buffer in
            decode(buffer)
        }
        switch result ?? decode(Array(bytes)) {
        case .success(let frame): return frame
        case .failure(let error): throw error
        }
    }

    private static func decode(_ bytes: [UInt8]) -> Result<Frame, FrameDecodingError> {
        bytes.withUnsafeBufferPointer { decode($0) }
    }

    private static func decode(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<Frame, FrameDecodingError> {
        var reader = EnvelopeReader(scanner: JSONScanner(buffer))
        do {
            return .success(try reader.read())
        } catch {
            return .failure(error)
        }
    }

    /// Encodes a frame as the text of a WebSocket message.
    public static func encode(_ frame: Frame) -> Data {
        var out = Data()
        out.reserveCapacity(64)
        switch frame {
        case .call(let call):
            out.append(contentsOf: #"[2,"#.utf8)
            appendString(call.messageID, to: &out)
            out.append(UInt8(ascii: ","))
            appendString(call.action, to: &out)
            out.append(UInt8(ascii: ","))
            out.append(call.payload.bytes)
        case .callResult(let result):
            out.append(contentsOf: #"[3,"#.utf8)
            appendString(result.messageID, to: &out)
            out.append(UInt8(ascii: ","))
            out.append(result.payload.bytes)
        case .callError(let error):
            out.append(contentsOf: #"[4,"#.utf8)
            appendString(error.messageID, to: &out)
            out.append(UInt8(ascii: ","))
            appendString(error.code.rawValue, to: &out)
            out.append(UInt8(ascii: ","))
            appendString(error.description, to: &out)
            out.append(UInt8(ascii: ","))
            out.append(error.details.bytes)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// Appends `string` as a JSON string literal.
    static func appendString(_ string: String, to out: inout Data) {
        var bytes: [UInt8] = []
        JSONString.append(string, to: &bytes)
        out.append(contentsOf: bytes)
    }
}

/// Walks the envelope of one frame: `[type, id, ...]`.
private struct EnvelopeReader: ~Copyable {
    var scanner: JSONScanner
    /// The id to answer with once the frame is known to be a CALL.
    var replyID: String?

    mutating func read() throws(FrameDecodingError) -> Frame {
        guard scanner.consume(UInt8(ascii: "[")) else {
            // Say whether it is JSON at all: the reason helps whoever debugs the charger.
            let isJSON = (try? scanner.skipValue()) != nil && scanner.peekSignificant() == nil
            throw fail(.formationViolation, isJSON ? "frame is not a JSON array" : "frame is not valid JSON", reply: "-1")
        }
        if scanner.consume(UInt8(ascii: "]")) {
            throw fail(.protocolError, "frame is an empty array", reply: "-1")
        }
        guard let typeNumber = scanner.scanInteger() else {
            throw fail(.formationViolation, "the first element (message type) must be 2, 3 or 4", reply: "-1")
        }
        guard let type = MessageTypeID(rawValue: typeNumber) else {
            // OCPP-J 1.6 section 4.1.3: a message with an unknown type number is ignored.
            try validateRest()
            throw fail(.formationViolation, "unknown message type \(typeNumber)", reply: nil)
        }
        if type == .call { replyID = FrameCodec.unknownMessageID }

        try nextElement(what: "message id")
        guard scanner.peekSignificant() == UInt8(ascii: "\"") else {
            throw fail(.formationViolation, "the message id must be a string")
        }
        let messageID = try readString(what: "message id")
        if messageID.isEmpty || messageID.utf8.count > maximumMessageIDLength {
            if type == .call { replyID = messageID }
            throw fail(.formationViolation, "the message id must be 1 to \(maximumMessageIDLength) characters")
        }
        if type == .call { replyID = messageID }

        let frame: Frame
        switch type {
        case .call:
            try nextElement(what: "action")
            let action = try readString(what: "action")
            try nextElement(what: "payload")
            frame = .call(try readCallPayload(messageID: messageID, action: action))
        case .callResult:
            try nextElement(what: "payload")
            let payload = try readObject(what: "payload")
            frame = .callResult(CallResult(messageID: messageID, payload: payload))
        case .callError:
            // Lenient: a charger that leaves out the description or details is still understood.
            try nextElement(what: "error code")
            let code = try readString(what: "error code")
            var description = ""
            var details = RawJSON.emptyObject
            if scanner.consume(UInt8(ascii: ",")) {
                description = try readString(what: "error description")
                if scanner.consume(UInt8(ascii: ",")) {
                    details = try readObject(what: "error details")
                }
            }
            frame = .callError(CallError(messageID: messageID, code: CallErrorCode(rawValue: code),
                                         description: description, details: details))
        }
        guard scanner.consume(UInt8(ascii: "]")) else {
            if scanner.peekSignificant() == UInt8(ascii: ",") {
                throw fail(.formationViolation, "frame has more elements than a \(Self.name(type)) allows")
            }
            throw fail(.formationViolation, "frame is not valid JSON: expected ']' at offset \(scanner.index)")
        }
        guard scanner.peekSignificant() == nil else {
            throw fail(.formationViolation, "frame is not valid JSON: trailing data at offset \(scanner.index)")
        }
        return frame
    }

    /// Expects the `,` before the next element; a `]` instead means the frame is incomplete.
    private mutating func nextElement(what: String) throws(FrameDecodingError) {
        if scanner.consume(UInt8(ascii: ",")) { return }
        if scanner.peekSignificant() == UInt8(ascii: "]") {
            throw fail(.protocolError, "frame is incomplete: the \(what) is missing")
        }
        throw fail(.formationViolation, "frame is not valid JSON: expected ',' at offset \(scanner.index)")
    }

    private mutating func readString(what: String) throws(FrameDecodingError) -> String {
        guard scanner.peekSignificant() == UInt8(ascii: "\"") else {
            throw fail(.formationViolation, "the \(what) must be a string")
        }
        do {
            return try scanner.scanString(decode: true) ?? ""
        } catch {
            throw fail(.formationViolation, "frame is not valid JSON: \(error.reason)")
        }
    }

    private mutating func readObject(what: String) throws(FrameDecodingError) -> RawJSON {
        let range: Range<Int>
        do {
            range = try scanner.skipValue()
        } catch {
            throw fail(.formationViolation, "frame is not valid JSON: \(error.reason)")
        }
        guard scanner.bytes[range.lowerBound] == UInt8(ascii: "{") else {
            throw fail(.formationViolation, "the \(what) must be a JSON object")
        }
        return RawJSON(validatedBytes: Data(UnsafeBufferPointer(rebasing: scanner.bytes[range])))
    }

    /// A CALL's payload. For the actions chargers send all day the fast path reads it at once, and what it accepts
    /// is valid JSON, so the usual MeterValues is scanned once instead of validated and then decoded. When it
    /// gives up, the payload is validated from its start as any other.
    private mutating func readCallPayload(messageID: String, action: String) throws(FrameDecodingError) -> Call {
        _ = scanner.peekSignificant()
        let start = scanner.index
        if let decoded = FastPathRequest.decode(action: action, &scanner) {
            var call = Call(messageID: messageID, action: action,
                            payload: RawJSON(validatedBytes: Data(UnsafeBufferPointer(rebasing: scanner.bytes[start..<scanner.index]))))
            call.decoded = decoded
            return call
        }
        scanner.advance(to: start)
        return Call(messageID: messageID, action: action, payload: try readObject(what: "payload"))
    }

    /// Checks that the rest of an ignored frame is still valid JSON, for a precise log line.
    private mutating func validateRest() throws(FrameDecodingError) {
        while scanner.consume(UInt8(ascii: ",")) {
            do { _ = try scanner.skipValue() } catch {
                throw fail(.formationViolation, "frame is not valid JSON: \(error.reason)", reply: nil)
            }
        }
    }

    /// An error answered with the id known so far (none before the frame is known to be a CALL).
    private func fail(_ code: CallErrorCode, _ reason: String) -> FrameDecodingError {
        FrameDecodingError(code: code, reason: reason, replyMessageID: replyID)
    }

    private func fail(_ code: CallErrorCode, _ reason: String, reply: String?) -> FrameDecodingError {
        FrameDecodingError(code: code, reason: reason, replyMessageID: reply)
    }

    private static func name(_ type: MessageTypeID) -> String {
        switch type {
        case .call: "CALL"
        case .callResult: "CALLRESULT"
        case .callError: "CALLERROR"
        }
    }
}
