import PostgresNIO

/// A value sent to the database as `jsonb` (PostgresNIO encodes an `Encodable` parameter as jsonb).
public struct JSONBValue<Value: Encodable & Sendable>: Encodable, PostgresEncodable, Sendable {
    public let value: Value

    public init(_ value: Value) {
        self.value = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
