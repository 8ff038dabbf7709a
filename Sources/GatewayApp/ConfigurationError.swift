/// A setting that stops start-up, with one line that says which and why.
public struct ConfigurationError: Error, Hashable, CustomStringConvertible {
    public var variable: String
    public var value: String?
    public var expected: String

    public init(variable: String, value: String?, expected: String) {
        self.variable = variable
        self.value = value
        self.expected = expected
    }

    public var description: String {
        if let value {
            return "\(variable)='\(value)' is invalid: expected \(expected)"
        }
        return "\(variable): \(expected)"
    }
}
