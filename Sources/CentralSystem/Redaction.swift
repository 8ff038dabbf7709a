/// Shortens an RFID tag for logs: the first two and last two characters (`AB…89`); short tags become `…`.
public func redactedTag(_ tag: String) -> String {
    guard tag.count > 6 else { return "…" }
    return "\(tag.prefix(2))…\(tag.suffix(2))"
}
