// libFuzzer entry for the OCPP-J frame decoder: any bytes must decode or fail with a FrameDecodingError,
// and whatever decodes must encode to a frame that decodes again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let frame = try? FrameCodec.decode(bytes) {
        guard (try? FrameCodec.decode(FrameCodec.encode(frame))) == frame else { fatalError("frame does not round-trip") }
    }
    return 0
}
