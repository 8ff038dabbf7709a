/// One OCPP-J message: a CALL, a CALLRESULT or a CALLERROR (OCPP-J 1.6 section 4.1).
public enum Frame: Hashable, Sendable {
    case call(Call)
    case callResult(CallResult)
    case callError(CallError)

    /// The message id that ties a CALL to its answer.
    public var messageID: String {
        switch self {
        case .call(let call): call.messageID
        case .callResult(let result): result.messageID
        case .callError(let error): error.messageID
        }
    }
}

/// The first element of every OCPP-J frame.
public enum MessageTypeID: Int, Sendable {
    case call = 2
    case callResult = 3
    case callError = 4
}

/// A request: `[2, "<messageId>", "<action>", {payload}]`.
public struct Call: Hashable, Sendable {
    public var messageID: String
    public var action: String
    public var payload: RawJSON
    /// The payload already decoded, when the frame decoder read it on the fast path (a MeterValues,
    /// StatusNotification or Heartbeat in the usual form) instead of only validating it. Not part of equality:
    /// it is the payload, read.
    var decoded: FastPathRequest?

    public init(messageID: String, action: String, payload: RawJSON) {
        self.messageID = messageID
        self.action = action
        self.payload = payload
    }

    /// The payload as `T`: the frame decoder's reading when it made one, otherwise ``PayloadCoding``'s.
    public func decodePayload<T: Decodable>(as type: T.Type) throws(PayloadDecodingError) -> T {
        if let value = decoded?.value(as: T.self) { return value }
        return try PayloadCoding.decode(type, from: payload)
    }

    public static func == (lhs: Call, rhs: Call) -> Bool {
        lhs.messageID == rhs.messageID && lhs.action == rhs.action && lhs.payload == rhs.payload
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(messageID)
        hasher.combine(action)
        hasher.combine(payload)
    }
}

/// A successful answer: `[3, "<messageId>", {payload}]`.
public struct CallResult: Hashable, Sendable {
    public var messageID: String
    public var payload: RawJSON

    public init(messageID: String, payload: RawJSON) {
        self.messageID = messageID
        self.payload = payload
    }
}

/// A failed answer: `[4, "<messageId>", "<errorCode>", "<errorDescription>", {errorDetails}]`.
public struct CallError: Hashable, Sendable, Error {
    public var messageID: String
    public var code: CallErrorCode
    public var description: String
    public var details: RawJSON

    public init(messageID: String, code: CallErrorCode, description: String, details: RawJSON = .emptyObject) {
        self.messageID = messageID
        self.code = code
        self.description = description
        self.details = details
    }
}

/// The longest message id OCPP-J 1.6 allows (section 4.1.3).
public let maximumMessageIDLength = 36
