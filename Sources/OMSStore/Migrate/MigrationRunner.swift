import Logging
import PostgresNIO

/// Applies the numbered migrations to a database, in order, each file in one
/// transaction, recording every applied version with its SHA-256 checksum in
/// `oms_schema_migrations`.
///
/// Re-running is a no-op. A recorded migration whose file has changed, or a
/// recorded version this build does not know, stops the run before anything is
/// applied. Concurrent runs against one database wait for each other (an
/// advisory lock), so two service instances starting together are safe.
public struct MigrationRunner: Sendable {
    /// The table that records applied migrations.
    public static let historyTable = "oms_schema_migrations"
    /// Advisory lock key held while migrating ("oms" + "mig" in ASCII).
    static let lockKey: Int64 = 0x6F_6D_73_6D_69_67

    /// The migrations this runner applies, in version order.
    public let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    /// A runner for the migrations shipped with this build.
    public static func bundled(logger: Logger) throws -> MigrationRunner {
        MigrationRunner(migrations: try Migration.bundled(), logger: logger)
    }

    /// What one run did.
    public struct Summary: Sendable, Equatable {
        /// Migrations applied by this run, in order.
        public var applied: [String]
        /// Migrations that were already applied before this run.
        public var alreadyApplied: Int
        /// The database's schema version after the run.
        public var schemaVersion: Int
    }

    /// Brings the database up to date.
    @discardableResult
    public func migrate(_ client: PostgresClient) async throws -> Summary {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let summary = try await migrate(on: connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return summary
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    private func migrate(on connection: PostgresConnection) async throws -> Summary {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS oms_schema_migrations (
                version      integer PRIMARY KEY,
                file_name    text NOT NULL,
                checksum     text NOT NULL,
                applied_at   timestamptz NOT NULL DEFAULT now(),
                execution_ms integer NOT NULL
            )
            """,
            logger: logger
        )
        let applied = try await appliedMigrations(on: connection)
        let checksums = try await sha256(of: migrations.map(\.sql), on: connection)
        let bundled = Dictionary(uniqueKeysWithValues: zip(migrations.map(\.version), zip(migrations, checksums)))

        // Refuse before applying anything.
        for record in applied {
            guard let (migration, checksum) = bundled[record.version] else {
                throw MigrationError.unknownApplied(version: record.version, fileName: record.fileName)
            }
            guard checksum == record.checksum else {
                throw MigrationError.changedAfterApply(
                    fileName: migration.fileName, recorded: record.checksum, current: checksum)
            }
        }

        let appliedVersions = Set(applied.map(\.version))
        var summary = Summary(applied: [], alreadyApplied: applied.count, schemaVersion: appliedVersions.max() ?? 0)
        for (migration, checksum) in zip(migrations, checksums) where !appliedVersions.contains(migration.version) {
            try await apply(migration, checksum: checksum, on: connection)
            summary.applied.append(migration.fileName)
            summary.schemaVersion = max(summary.schemaVersion, migration.version)
        }
        return summary
    }

    private func apply(_ migration: Migration, checksum: String, on connection: PostgresConnection) async throws {
        let statements: [SQLStatement]
        do {
            statements = try SQLScript.statements(in: migration.sql)
        } catch {
            throw MigrationError.malformedScript(fileName: migration.fileName, reason: error.description)
        }
        let clock = ContinuousClock()
        let started = clock.now
        logger.info("applying migration", metadata: ["file": "\(migration.fileName)"])
        do {
            try await connection.withTransaction(logger: logger) { connection in
                for statement in statements {
                    do {
                        try await connection.query(PostgresQuery(unsafeSQL: statement.text), logger: logger)
                    } catch {
                        throw MigrationError.statementFailed(
                            fileName: migration.fileName, line: statement.line, message: error.readableDatabaseMessage)
                    }
                }
                let elapsed = clock.now - started
                let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                try await connection.query(
                    """
                    INSERT INTO oms_schema_migrations (version, file_name, checksum, execution_ms)
                    VALUES (\(migration.version), \(migration.fileName), \(checksum), \(milliseconds))
                    """,
                    logger: logger
                )
            }
        } catch let error as PostgresTransactionError {
            if let cause = error.closureError { throw cause }
            throw error
        }
    }

    private struct AppliedMigration {
        var version: Int
        var fileName: String
        var checksum: String
    }

    private func appliedMigrations(on connection: PostgresConnection) async throws -> [AppliedMigration] {
        let rows = try await connection.query(
            "SELECT version, file_name, checksum FROM oms_schema_migrations ORDER BY version", logger: logger)
        var result: [AppliedMigration] = []
        for try await (version, fileName, checksum) in rows.decode((Int, String, String).self) {
            result.append(AppliedMigration(version: version, fileName: fileName, checksum: checksum))
        }
        return result
    }

    /// SHA-256 (hex) of each text's UTF-8 bytes, computed by the server: the same
    /// value `sha256sum FILE` prints.
    private func sha256(of texts: [String], on connection: PostgresConnection) async throws -> [String] {
        let rows = try await connection.query(
            """
            SELECT encode(sha256(convert_to(t.sql, 'UTF8')), 'hex')
              FROM unnest(\(texts)::text[]) WITH ORDINALITY AS t(sql, n)
             ORDER BY t.n
            """,
            logger: logger
        )
        var result: [String] = []
        for try await checksum in rows.decode(String.self) { result.append(checksum) }
        return result
    }
}
