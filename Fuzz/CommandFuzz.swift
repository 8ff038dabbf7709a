// libFuzzer entry for the MQTT command parser: any payload is either a command or a precise rejection.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommand(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch CommandParser.parse(bytes) {
    case .success(let command):
        if case .ocpp(_, let payload) = command.operation, !payload.isObject { fatalError("a command payload must be an object") }
    case .failure(let rejection):
        if rejection.code.description.isEmpty || rejection.message.isEmpty { fatalError("a rejection must say why") }
    }
    return 0
}
