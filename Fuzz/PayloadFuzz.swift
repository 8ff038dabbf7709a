import Foundation

// libFuzzer entry for the typed message decoders: the first byte picks an action, the rest is its payload.
// Decoding may fail only with a PayloadDecodingError; what decodes must encode again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPayload(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let actions = Action.allCases.filter { MessageTypes.requestType(for: $0) != nil }
    let action = actions[Int(data[0]) % actions.count]
    let payload = RawJSON(validatedBytes: Data(UnsafeBufferPointer(start: data + 1, count: size - 1)))
    func check<T: Codable>(_ type: T.Type) {
        if let value = try? PayloadCoding.decode(type, from: payload) {
            guard (try? PayloadCoding.encode(value)) != nil else { fatalError("decoded \(type) does not encode") }
        }
    }
    check(MessageTypes.requestType(for: action)!)
    check(MessageTypes.responseType(for: action)!)
    return 0
}
