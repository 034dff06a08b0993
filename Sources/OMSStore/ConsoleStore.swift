import Foundation
import Logging
import OMSDomain
import PostgresNIO

/// The operator console's sessions and reads (`23_console.sql`): the SQL functions psql users call
/// too. The reads come back as the JSON text the database built, handed to the page as it is.
public struct ConsoleStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A new session token: 32 random bytes from the operating system, base64url (43 characters).
    public static func generateToken() -> String {
        String(APIKeyStore.generateKey().dropFirst("oms_".count))
    }

    /// Opens a session for the API key `key` with `token`, lasting `hours`; nil when the key is not
    /// one in force.
    public func openSession(key: String, token: String, hours: Double, client address: String) async throws -> AuthenticatedKey? {
        let rows = try await client.fetch(
            """
            SELECT session_id, key_id, name, scopes, expires_at, csrf_token
              FROM oms_console_session_open(\(key), \(token), \(hours)::numeric, \(address))
            """, logger: logger)
        return try rows.decode((UUID, UUID, String, [String], Date, String).self).first.map(Self.key)
    }

    /// The key of the open session `token` is (with the session's id and end), or nil.
    public func authenticateSession(_ token: String) async throws -> AuthenticatedKey? {
        let rows = try await client.fetch(
            "SELECT session_id, key_id, name, scopes, expires_at, csrf_token FROM oms_console_session_authenticate(\(token))",
            logger: logger)
        return try rows.decode((UUID, UUID, String, [String], Date, String).self).first.map(Self.key)
    }

    /// Signs the session out; false when it was not open.
    public func closeSession(_ token: String) async throws -> Bool {
        let rows = try await client.fetch("SELECT oms_console_session_close(\(token))", logger: logger)
        return try rows.decode(Bool.self).first ?? false
    }

    static func key(_ row: (UUID, UUID, String, [String], Date, String)) -> AuthenticatedKey {
        let (session, key, name, scopes, expires, csrf) = row
        return AuthenticatedKey(
            id: key, name: name, scopes: scopes.compactMap(APIScope.init(rawValue:)),
            session: .init(id: session, expiresAt: expires, csrfToken: csrf))
    }

    /// The network for a map view (`oms_console_network`). Throws SQLSTATE 22023 for a bad box or zoom.
    public func network(west: Double, south: Double, east: Double, north: Double, zoom: Int) async throws -> String {
        try await json("SELECT oms_console_network(\(west), \(south), \(east), \(north), \(Int32(zoom)))::text")
    }

    /// The active and recently restored outages, or exactly `eventIDs` (`oms_console_outages`).
    public func outages(eventIDs: [String]?, recentMinutes: Int?) async throws -> String {
        try await json("SELECT oms_console_outages(\(eventIDs), \(recentMinutes.map(Int32.init)))::text")
    }

    /// Customers out, outages by status and by substation (`oms_console_summary`).
    public func summary() async throws -> String {
        try await json("SELECT oms_console_summary()::text")
    }

    /// One outage as its console page shows it; nil when there is none (`oms_console_outage`).
    public func outage(eventID: String, meterLimit: Int) async throws -> String? {
        let rows = try await client.read("SELECT oms_console_outage(\(eventID), \(Int32(meterLimit)))::text", logger: logger)
        return try rows.decode(String?.self).first ?? nil
    }

    /// Daily SAIDI and SAIFI as a JSON array (`oms_reliability_daily`). Throws 22023 for a bad period or scope.
    public func dailyReliability(from: Date?, to: Date?, substation: String?, feeder: String?) async throws -> String {
        try await json(
            """
            SELECT coalesce(json_agg(json_build_object('day', d.day, 'saidi', d.saidi, 'saifi', d.saifi,
                                                       'customers_interrupted', d.customers_interrupted) ORDER BY d.day),
                            '[]')::text
              FROM oms_reliability_daily(\(from), \(to), \(substation), \(feeder)) d
            """)
    }

    private func json(_ query: PostgresQuery) async throws -> String {
        try await client.read(query, logger: logger).decode(String.self).first ?? "null"
    }
}
