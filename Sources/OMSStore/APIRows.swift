import Foundation
import OMSAPI
import OMSDomain
import PostgresNIO

/// How the read API's rows come out of the database: one `jsonb` object per row (`to_jsonb` of the
/// view or function row), decoded by PostgresNIO straight into the API's own types (generated from
/// openapi.json), with the database's times (`2025-09-30T10:00:00.123456+00:00`) read as dates.
enum APIRows {
    /// The JSON decoder for those rows.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = ISO8601Time.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time: \(text)")
            }
            return date
        }
        return decoder
    }()

    /// The decoding context that uses it.
    static let context = PostgresDecodingContext(jsonDecoder: decoder)
}

extension PostgresClient {
    /// The rows of a read (`read`: it changes nothing) whose one column is a `jsonb` object,
    /// decoded as `Row`, in order.
    func apiRows<Row: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: Row.Type, logger: Logger) async throws -> [Row] {
        try await read(query, logger: logger).decode(Row.self, context: APIRows.context)
    }
}

// The API's types, read from jsonb by PostgresNIO (its `Decodable` conformance does the work).
extension Components.Schemas.Meter: PostgresDecodable {}
extension Components.Schemas.MeterSummary: PostgresDecodable {}
extension Components.Schemas.HistoryItem: PostgresDecodable {}
extension Components.Schemas.NearbyMeter: PostgresDecodable {}
extension Components.Schemas.Substation: PostgresDecodable {}
extension Components.Schemas.Feeder: PostgresDecodable {}
extension Components.Schemas.Setting: PostgresDecodable {}
extension Components.Schemas.Outage: PostgresDecodable {}
extension Components.Schemas.OutageDetail: PostgresDecodable {}
extension Components.Schemas.Reliability: PostgresDecodable {}
