import Foundation
import Logging
import PostgresNIO

/// Which outages to list (`oms_outages`); nil means "any".
public struct OutageFilter: Sendable {
    public var statuses: [String]?
    public var active: Bool?
    public var from: Date?
    public var to: Date?
    public var substation: String?

    public init(statuses: [String]? = nil, active: Bool? = nil, from: Date? = nil, to: Date? = nil, substation: String? = nil) {
        self.statuses = statuses
        self.active = active
        self.from = from
        self.to = to
        self.substation = substation
    }
}

/// Outages as the read API serves them, through `oms_outages` and `oms_outage_detail` (0027).
public struct OutageQueries: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A page of outages, newest first: each as a JSON object with its `cursor`.
    /// Throws SQLSTATE 22023 naming the argument (p_status, p_from, p_substation, p_cursor) for a bad filter.
    public func listJSON(_ filter: OutageFilter, limit: Int, cursor: String?) async throws -> [(json: String, cursor: String)] {
        try await client.jsonPage(
            """
            SELECT row_to_json(o)::text, o.cursor
              FROM oms_outages(\(filter.statuses), \(filter.active), \(filter.from), \(filter.to), \(filter.substation),
                               \(Int32(limit)), \(cursor)) o
            """, logger: logger)
    }

    /// One outage with its sources, timeline and meters as a JSON document; nil when there is none.
    public func detailJSON(eventID: String) async throws -> String? {
        let rows = try await client.query("SELECT oms_outage_detail(\(eventID))::text", logger: logger)
        for try await json in rows.decode(String?.self) { return json }
        return nil
    }
}
