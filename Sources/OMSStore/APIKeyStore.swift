import Foundation
import Logging
import OMSDomain
import PostgresNIO

/// API keys (`0025_api_keys.sql`): made here from the operating system's random
/// numbers, stored by the SQL functions psql users call too.
public struct APIKeyStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The console's sessions, opened with these keys, on the same pool.
    public var consoleSessions: ConsoleStore { ConsoleStore(client: client, logger: logger) }

    /// A new key: "oms_" and 32 random bytes in base64url (43 characters).
    public static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "oms_" + base64
    }

    /// Creates a key with these scopes; returns its id and the key, which is shown only now.
    public func create(scopes: [APIScope], name: String) async throws -> (id: UUID, key: String) {
        let key = Self.generateKey()
        let rows = try await client.fetch(
            "SELECT oms_api_key_create(\(key), \(scopes.map(\.rawValue)), \(name))", logger: logger)
        for id in try rows.decode(UUID.self) { return (id, key) }
        throw NoKeyCreated()
    }

    /// Every key, newest first (revoked ones too).
    public func list() async throws -> [APIKeyRecord] {
        let rows = try await client.fetch(
            "SELECT id, name, scopes, key_prefix, created_at, revoked_at FROM oms_api_keys ORDER BY created_at DESC, id",
            logger: logger)
        var keys: [APIKeyRecord] = []
        for (id, name, scopes, prefix, created, revoked) in try rows.decode((UUID, String, [String], String, Date, Date?).self) {
            keys.append(APIKeyRecord(
                id: id, name: name, scopes: scopes.compactMap(APIScope.init(rawValue:)), prefix: prefix,
                createdAt: created, revokedAt: revoked))
        }
        return keys
    }

    /// Revokes a key; false when no key in force has this id.
    public func revoke(id: UUID) async throws -> Bool {
        let rows = try await client.fetch("SELECT oms_api_key_revoke(\(id))", logger: logger)
        for revoked in try rows.decode(Bool.self) { return revoked }
        return false
    }

    /// The key in force that `key` is, or nil.
    public func authenticate(_ key: String) async throws -> AuthenticatedKey? {
        let rows = try await client.read("SELECT key_id, name, scopes FROM oms_api_key_authenticate(\(key))", logger: logger)
        for (id, name, scopes) in try rows.decode((UUID, String, [String]).self) {
            return AuthenticatedKey(id: id, name: name, scopes: scopes.compactMap(APIScope.init(rawValue:)))
        }
        return nil
    }

    /// oms_api_key_create() returned no row (it always returns one or raises).
    struct NoKeyCreated: Error, CustomStringConvertible {
        var description: String { "oms_api_key_create() returned no key id" }
    }
}
