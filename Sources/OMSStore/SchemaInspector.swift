import Logging
import PostgresNIO

/// Reads of the database's own state: schema version, validation checks, sample data.
public struct SchemaInspector: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The highest applied migration version, or nil when `oms migrate` never ran.
    public func schemaVersion() async throws -> Int? {
        try await client.withConnection { connection in
            let exists = try await connection.query(
                "SELECT to_regclass('oms_schema_migrations') IS NOT NULL", logger: logger)
            for try await exists in exists.decode(Bool.self) where !exists { return nil }
            let rows = try await connection.query("SELECT max(version) FROM oms_schema_migrations", logger: logger)
            for try await version in rows.decode(Int?.self) { return version }
            return nil
        }
    }

    /// The validation checklist, as the database computes it.
    public func validationReport() async throws -> [ValidationCheck] {
        let rows = try await client.fetch(
            "SELECT check_name, passed, detail FROM oms_validation_report()", logger: logger)
        var checks: [ValidationCheck] = []
        for (name, passed, detail) in try rows.decode((String, Bool, String).self) {
            checks.append(ValidationCheck(name: name, passed: passed, detail: detail))
        }
        return checks
    }
}
