import Logging
import PostgresNIO

/// Brings a database's schema up to date from the two kinds of schema file
/// (`Schema/README.md`):
///
/// 1. the versioned files, in version order, each once and in one transaction,
///    recorded with their SHA-256 in `oms_schema_migrations`;
/// 2. the current files (functions, triggers, views), in order, each in one
///    transaction, whenever its SHA-256 differs from the one recorded in
///    `oms_schema_current_files`, and all of them after any versioned file was
///    applied (a versioned file may have dropped what a current file defines).
///
/// Re-running is a no-op. A recorded versioned file whose file has changed, or a
/// recorded version this build does not know, stops the run before anything is
/// applied. A database migrated by the numbered migrations 0001–0031
/// (`LegacySchema`) gets the baseline recorded as applied without running it.
/// Concurrent runs against one database wait for each other (an advisory lock),
/// so two service instances starting together are safe. A file applied while the
/// service works waits at most `lockTimeout` for each lock and is run again from the
/// start when it conflicts with the service's transactions (a deadlock, a lock not
/// granted), so a rolling upgrade neither stalls the feeds nor fails.
public struct MigrationRunner: Sendable {
    /// The table that records applied versioned files.
    public static let historyTable = "oms_schema_migrations"
    /// The table that records the current files as last applied.
    public static let currentFilesTable = "oms_schema_current_files"
    /// Advisory lock key held while migrating ("oms" + "mig" in ASCII).
    static let lockKey: Int64 = 0x6F_6D_73_6D_69_67

    /// The versioned files this runner applies, in version order.
    public let migrations: [Migration]
    /// The current files this runner keeps applied, in order.
    public let current: [CurrentSchemaFile]
    let logger: Logger

    /// A runner for `migrations` (versioned) and `current` files. Without current
    /// files the runner only applies versioned files, as the legacy chain was applied.
    public init(migrations: [Migration], current: [CurrentSchemaFile] = [], logger: Logger) {
        self.migrations = migrations
        self.current = current
        self.logger = logger
    }

    /// A runner for the schema files shipped with this build.
    public static func bundled(logger: Logger) throws -> MigrationRunner {
        MigrationRunner(migrations: try Migration.bundled(), current: try CurrentSchemaFile.bundled(), logger: logger)
    }

    /// What one run did.
    public struct Summary: Sendable, Equatable {
        /// Versioned files applied by this run, in order.
        public var applied: [String]
        /// Versioned files that were already applied before this run.
        public var alreadyApplied: Int
        /// The database's schema version after the run.
        public var schemaVersion: Int
        /// Versioned files recorded as applied without running them: the baseline, on a
        /// database migrated by the legacy chain (`LegacySchema`).
        public var baselined: [String] = []
        /// Current files applied by this run (`current/NN_area.sql`), in order.
        public var currentApplied: [String] = []
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
        if !current.isEmpty {
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS oms_schema_current_files (
                    file_name    text PRIMARY KEY,
                    checksum     text NOT NULL,
                    applied_at   timestamptz NOT NULL DEFAULT now(),
                    execution_ms integer NOT NULL
                )
                """,
                logger: logger
            )
        }
        let applied = try await appliedMigrations(on: connection)
        let checksums = try await sha256(of: migrations.map(\.sql) + current.map(\.sql), on: connection)
        let versionedChecksums = Array(checksums.prefix(migrations.count))
        let currentChecksums = Array(checksums.dropFirst(migrations.count))
        let bundled = Dictionary(uniqueKeysWithValues: zip(migrations.map(\.version), zip(migrations, versionedChecksums)))
        let baseline = bundled[LegacySchema.baselineVersion]

        // Refuse before applying anything.
        var legacyVersions: [Int] = []
        for record in applied {
            if let (migration, checksum) = bundled[record.version] {
                guard checksum == record.checksum else {
                    throw MigrationError.changedAfterApply(
                        fileName: migration.fileName, recorded: record.checksum, current: checksum)
                }
            } else if baseline != nil, let legacy = LegacySchema.file(version: record.version),
                      legacy.fileName == record.fileName {
                guard legacy.checksum == record.checksum else {
                    throw MigrationError.changedAfterApply(
                        fileName: legacy.fileName, recorded: record.checksum, current: legacy.checksum)
                }
                legacyVersions.append(record.version)
            } else {
                throw MigrationError.unknownApplied(version: record.version, fileName: record.fileName)
            }
        }

        var appliedVersions = Set(applied.map(\.version))
        var summary = Summary(applied: [], alreadyApplied: applied.count, schemaVersion: appliedVersions.max() ?? 0)

        // A database migrated by the legacy chain: it already holds what the baseline builds.
        if let (baseline, checksum) = baseline, !legacyVersions.isEmpty, !appliedVersions.contains(baseline.version) {
            guard legacyVersions == Array(1...LegacySchema.files.count) else {
                let last = legacyVersions.max() ?? 0
                throw MigrationError.legacyIncomplete(version: last, fileName: LegacySchema.file(version: last)?.fileName ?? "?")
            }
            do {
                try await connection.withTransaction(logger: logger) { connection in
                    try await record(baseline, checksum: checksum, milliseconds: 0, on: connection)
                }
            } catch let error as PostgresTransactionError {
                if let cause = error.closureError { throw cause }
                throw error
            }
            logger.notice(
                "database migrated by the numbered migrations 0001-0031: baseline recorded as applied without running it",
                metadata: ["file": "\(baseline.fileName)"])
            appliedVersions.insert(baseline.version)
            summary.baselined.append(baseline.fileName)
            summary.schemaVersion = max(summary.schemaVersion, baseline.version)
        }

        for (migration, checksum) in zip(migrations, versionedChecksums) where !appliedVersions.contains(migration.version) {
            try await apply(migration.sql, fileName: migration.fileName, on: connection) { connection, milliseconds in
                try await record(migration, checksum: checksum, milliseconds: milliseconds, on: connection)
            }
            summary.applied.append(migration.fileName)
            summary.schemaVersion = max(summary.schemaVersion, migration.version)
        }

        guard !current.isEmpty else { return summary }
        let recorded = try await appliedCurrentFiles(on: connection)
        let names = Set(current.map(\.fileName))
        for fileName in recorded.keys.sorted() where !names.contains(fileName) {
            // A file this build no longer has (renamed or merged): its objects stay until a versioned file drops them.
            try await connection.query("DELETE FROM oms_schema_current_files WHERE file_name = \(fileName)", logger: logger)
        }
        for (file, checksum) in zip(current, currentChecksums) where recorded[file.fileName] != checksum {
            try await apply(file.sql, fileName: file.path, on: connection) { connection, milliseconds in
                try await connection.query(
                    """
                    INSERT INTO oms_schema_current_files (file_name, checksum, execution_ms)
                    VALUES (\(file.fileName), \(checksum), \(milliseconds))
                    ON CONFLICT (file_name) DO UPDATE
                       SET checksum = EXCLUDED.checksum, applied_at = now(), execution_ms = EXCLUDED.execution_ms
                    """,
                    logger: logger
                )
            }
            summary.currentApplied.append(file.path)
        }
        return summary
    }

    /// Records a versioned file as applied. The current files' records are cleared in the
    /// same transaction: they are all applied again after it, even if this run stops
    /// before that (a versioned file may drop what a current file defines).
    private func record(
        _ migration: Migration, checksum: String, milliseconds: Int, on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            """
            INSERT INTO oms_schema_migrations (version, file_name, checksum, execution_ms)
            VALUES (\(migration.version), \(migration.fileName), \(checksum), \(milliseconds))
            """,
            logger: logger
        )
        if !current.isEmpty {
            try await connection.query("DELETE FROM oms_schema_current_files", logger: logger)
        }
    }

    /// How long a schema file's statement waits for a table lock before its transaction gives up
    /// and is tried again: a file applied while `oms serve` works (a rolling upgrade) takes locks
    /// the feed batches also take, and a statement queued behind a long batch would hold every
    /// later batch behind it.
    static let lockTimeout = "2s"

    /// Attempts at one file before its failure is reported, when the database refuses it for a
    /// conflict with concurrent work (a deadlock, a lock not granted in `lockTimeout`, a
    /// serialization failure); the whole transaction rolled back each time.
    static let conflictAttempts = 10

    /// The SQLSTATEs of a conflict with concurrent work: deadlock detected, lock not available,
    /// serialization failure.
    static let conflictStates: Set<String> = ["40P01", "55P03", "40001"]

    /// Runs one file's statements in one transaction, then `finish` (its record) in the same
    /// transaction. A conflict with concurrent work rolls the transaction back and runs the file
    /// again, after a growing pause, up to `conflictAttempts` times.
    private func apply(
        _ sql: String, fileName: String, on connection: PostgresConnection,
        finish: (PostgresConnection, Int) async throws -> Void
    ) async throws {
        let statements: [SQLStatement]
        do {
            statements = try SQLScript.statements(in: sql)
        } catch {
            throw MigrationError.malformedScript(fileName: fileName, reason: error.description)
        }
        logger.info("applying schema file", metadata: ["file": "\(fileName)"])
        for attempt in 1... {
            do {
                try await applyOnce(statements, fileName: fileName, on: connection, finish: finish)
                return
            } catch let conflict as ConflictWithConcurrentWork where attempt < Self.conflictAttempts {
                logger.warning("schema file conflicted with concurrent work; rolled back, trying again", metadata: [
                    "file": "\(fileName)", "line": "\(conflict.line)", "sqlstate": "\(conflict.state)", "attempt": "\(attempt)",
                ])
                try await Task.sleep(for: .milliseconds(100 * min(attempt, 10)))
            } catch let conflict as ConflictWithConcurrentWork {
                throw MigrationError.statementFailed(fileName: fileName, line: conflict.line, message: conflict.message)
            }
        }
    }

    /// A statement refused for a conflict with concurrent work (`conflictStates`).
    private struct ConflictWithConcurrentWork: Error {
        var state: String
        var line: Int
        var message: String
    }

    private func applyOnce(
        _ statements: [SQLStatement], fileName: String, on connection: PostgresConnection,
        finish: (PostgresConnection, Int) async throws -> Void
    ) async throws {
        let clock = ContinuousClock()
        let started = clock.now
        do {
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL lock_timeout = '\(Self.lockTimeout)'"), logger: logger)
                for statement in statements {
                    do {
                        try await connection.query(PostgresQuery(unsafeSQL: statement.text), logger: logger)
                    } catch {
                        if let state = error.databaseSQLState, Self.conflictStates.contains(state) {
                            throw ConflictWithConcurrentWork(state: state, line: statement.line, message: error.readableDatabaseMessage)
                        }
                        throw MigrationError.statementFailed(
                            fileName: fileName, line: statement.line, message: error.readableDatabaseMessage)
                    }
                }
                let elapsed = clock.now - started
                let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                try await finish(connection, milliseconds)
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

    /// The checksum each current file had when last applied, by file name.
    private func appliedCurrentFiles(on connection: PostgresConnection) async throws -> [String: String] {
        let rows = try await connection.query("SELECT file_name, checksum FROM oms_schema_current_files", logger: logger)
        var result: [String: String] = [:]
        for try await (fileName, checksum) in rows.decode((String, String).self) { result[fileName] = checksum }
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
