import Foundation

/// Reads env files in the syntax python-dotenv accepts (the reference product's), so existing files work.
///
/// `KEY=value`, optional `export `, `#` comments (whole lines, or after an unquoted value and a space),
/// single quotes (literal), double quotes (with `\n`, `\t`, `\"`, `\\` escapes), surrounding spaces trimmed.
public enum EnvFile {
    public struct ParseError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public static func parse(_ text: String) throws(ParseError) -> [(key: String, value: String)] {
        var entries: [(key: String, value: String)] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\r", with: "")
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst("export ".count)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(line: offset + 1, message: "expected KEY=VALUE")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-" }) else {
                throw ParseError(line: offset + 1, message: "'\(key)' is not a variable name")
            }
            let rest = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            entries.append((key, try value(rest, line: offset + 1)))
        }
        return entries
    }

    private static func value(_ text: String, line: Int) throws(ParseError) -> String {
        guard let quote = text.first, quote == "'" || quote == "\"" else {
            // Unquoted: an inline comment starts at " #".
            if let comment = text.range(of: " #") { return text[..<comment.lowerBound].trimmingCharacters(in: .whitespaces) }
            return text
        }
        var result = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if character == quote {
                let after = text[text.index(after: index)...].trimmingCharacters(in: .whitespaces)
                guard after.isEmpty || after.hasPrefix("#") else {
                    throw ParseError(line: line, message: "unexpected text after the closing quote")
                }
                return result
            }
            if quote == "\"", character == "\\", text.index(after: index) < text.endIndex {
                index = text.index(after: index)
                switch text[index] {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                default: result.append(text[index])
                }
            } else {
                result.append(character)
            }
            index = text.index(after: index)
        }
        throw ParseError(line: line, message: "missing closing \(quote)")
    }
}
