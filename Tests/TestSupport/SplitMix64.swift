/// A small deterministic random source, so a failing property test can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Applies 1 to `count` random edits to `bytes` (replace, remove or insert a byte of `alphabet`); a text that
    /// becomes empty becomes `empty` instead.
    public mutating func mutate(_ bytes: inout [UInt8], upTo count: UInt64, from alphabet: [UInt8], emptyBecomes empty: UInt8) {
        for _ in 0..<(1 + next() % count) {
            let position = Int(next() % UInt64(bytes.count))
            switch next() % 3 {
            case 0: bytes[position] = alphabet[Int(next() % UInt64(alphabet.count))]
            case 1: bytes.remove(at: position)
            default: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: position)
            }
            if bytes.isEmpty { bytes = [empty] }
        }
    }
}
