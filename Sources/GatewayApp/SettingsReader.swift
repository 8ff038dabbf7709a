import Foundation
import Logging

/// Typed reads of settings, each failing with a ``ConfigurationError`` that names the variable.
struct SettingsReader {
    let values: [String: String]

    /// The raw value, or the default when unset or blank.
    func raw(_ setting: Setting) -> String {
        let value = values[setting.name]?.trimmingCharacters(in: .whitespaces) ?? ""
        return value.isEmpty ? setting.defaultValue : value
    }

    func string(_ setting: Setting) throws(ConfigurationError) -> String {
        let value = raw(setting)
        guard !value.isEmpty else { throw ConfigurationError(variable: setting.name, value: value, expected: "a value") }
        return value
    }

    func integer(_ setting: Setting, in range: ClosedRange<Int>, expected: String) throws(ConfigurationError) -> Int {
        let value = raw(setting)
        guard let number = Int(value), range.contains(number) else {
            throw ConfigurationError(variable: setting.name, value: value, expected: expected)
        }
        return number
    }

    /// Seconds, fractions allowed (`0.3`); `nil` never, unless zero is allowed and mapped by the caller.
    func seconds(_ setting: Setting, allowZero: Bool = false) throws(ConfigurationError) -> Duration? {
        let value = raw(setting)
        guard let number = Double(value), number.isFinite, number >= 0, number <= 31_536_000, allowZero || number > 0 else {
            throw ConfigurationError(variable: setting.name, value: value,
                                     expected: allowZero ? "a number of seconds, 0 or more" : "a number of seconds above 0")
        }
        return .milliseconds(Int64((number * 1000).rounded()))
    }

    func boolean(_ setting: Setting) throws(ConfigurationError) -> Bool {
        let value = raw(setting)
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(variable: setting.name, value: value, expected: "true/false, 1/0, yes/no or on/off")
        }
    }

    /// A JSON list of strings (the reference's format) or a comma-separated list.
    func tagList(_ setting: Setting) throws(ConfigurationError) -> [String] {
        let value = raw(setting)
        if value.hasPrefix("[") {
            guard let list = try? JSONDecoder().decode([String].self, from: Data(value.utf8)) else {
                throw ConfigurationError(variable: setting.name, value: value, expected: #"a JSON list of strings such as ["tag1","tag2"]"#)
            }
            return list.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func number(_ setting: Setting, in range: ClosedRange<Double>, expected: String) throws(ConfigurationError) -> Double {
        let value = raw(setting)
        guard let number = Double(value), number.isFinite, range.contains(number) else {
            throw ConfigurationError(variable: setting.name, value: value, expected: expected)
        }
        return number
    }

    func logLevel(_ setting: Setting) throws(ConfigurationError) -> Logger.Level {
        let value = raw(setting)
        switch value.uppercased() {
        case "TRACE": return .trace
        case "DEBUG": return .debug
        case "INFO": return .info
        case "NOTICE": return .notice
        case "WARNING", "WARN": return .warning
        case "ERROR": return .error
        case "CRITICAL", "FATAL": return .critical
        default:
            throw ConfigurationError(variable: setting.name, value: value, expected: "TRACE, DEBUG, INFO, WARNING, ERROR or CRITICAL")
        }
    }
}
