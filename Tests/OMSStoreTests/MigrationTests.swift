import Foundation
import OMSDomain
import OMSStore
import OMSTestSupport
import PostgresNIO
import Synchronization
import Testing

@Suite("Schema migrations")
struct MigrationTests {
    let logger = TestDatabase.logger

    func bundledRunner(
        adding extra: [Migration] = [], changing fileName: String? = nil,
        currentChanges: [String: (String) -> String] = [:]
    ) throws -> MigrationRunner {
        var migrations = try Migration.bundled().map { migration in
            migration.fileName == fileName
                ? Migration(version: migration.version, fileName: migration.fileName, sql: migration.sql + "\n-- edited\n")
                : migration
        }
        migrations += extra
        let current = try CurrentSchemaFile.bundled().map { file in
            guard let change = currentChanges[file.fileName] else { return file }
            return CurrentSchemaFile(order: file.order, fileName: file.fileName, sql: change(file.sql))
        }
        return MigrationRunner(migrations: migrations, current: current, logger: logger)
    }

    @Test("migrations apply to an empty database and create the seed's objects")
    func appliesToEmptyDatabase() async throws {
        let bundled = try Migration.bundled()
        let current = try CurrentSchemaFile.bundled()
        try await TestDatabase.with(.empty) { database in
            let summary = try await MigrationRunner(migrations: bundled, current: current, logger: logger)
                .migrate(database.client)
            #expect(summary.applied == bundled.map(\.fileName))
            #expect(summary.currentApplied == current.map(\.path))
            #expect(summary.baselined.isEmpty)
            #expect(summary.alreadyApplied == 0)
            #expect(summary.schemaVersion == bundled.last?.version)
            let objects = [
                "network_substations", "network_feeders", "network_distribution_points", "oms_customers",
                "oms_meters", "network_substation_meters", "network_feeder_meters", "oms_meter_status_events",
                "scada_event_affected_meters", "oms_outage_events", "oms_event_sources", "oms_event_timeline",
                "scada_events", "onu_events", "kaifa_events", "callcenter_tickets", "oms_settings",
                "network_substations_with_meters", "network_feeders_with_meters", "oms_meters_with_topology",
                "oms_active_outages",
            ]
            let missing = try await database.client.scalar(
                "SELECT coalesce(array_agg(o), '{}') FROM unnest(\(objects)::text[]) o WHERE to_regclass(o) IS NULL",
                as: [String].self)
            #expect(missing.isEmpty)
            let recorded = try await database.client.scalar(
                "SELECT count(*)::int FROM oms_schema_migrations WHERE length(checksum) = 64", as: Int.self)
            #expect(recorded == bundled.count)
            let recordedCurrent = try await database.client.scalar(
                "SELECT count(*)::int FROM oms_schema_current_files WHERE length(checksum) = 64", as: Int.self)
            #expect(recordedCurrent == current.count)
        }
    }

    @Test("running the migrations again changes nothing")
    func rerunIsNoOp() async throws {
        try await TestDatabase.with(.empty) { database in
            let runner = try bundledRunner()
            try await runner.migrate(database.client)
            let before = try await database.client.schemaFingerprint()
            let again = try await runner.migrate(database.client)
            #expect(again.applied.isEmpty)
            #expect(again.currentApplied.isEmpty)
            #expect(again.alreadyApplied == runner.migrations.count)
            #expect(try await database.client.schemaFingerprint() == before)
        }
    }

    @Test("the recorded checksums are the files' SHA-256")
    func checksumIsSHA256() async throws {
        try await TestDatabase.with(.migrated) { database in
            let first = try #require(try Migration.bundled().first)
            let recorded = try await database.client.scalar(
                "SELECT checksum FROM oms_schema_migrations WHERE version = \(first.version)", as: String.self)
            let computed = try await database.client.scalar(
                "SELECT encode(sha256(convert_to(\(first.sql), 'UTF8')), 'hex')", as: String.self)
            #expect(recorded == computed)
            #expect(recorded.count == 64)
            for file in try CurrentSchemaFile.bundled() {
                let recorded = try await database.client.scalar(
                    "SELECT checksum FROM oms_schema_current_files WHERE file_name = \(file.fileName)", as: String.self)
                let computed = try await database.client.scalar(
                    "SELECT encode(sha256(convert_to(\(file.sql), 'UTF8')), 'hex')", as: String.self)
                #expect(recorded == computed, "\(file.fileName)")
            }
        }
    }

    @Test("an applied migration that changed is refused, and nothing else is applied")
    func changedMigrationRefused() async throws {
        try await TestDatabase.with(.migrated) { database in
            let extra = Migration(version: 900, fileName: "0900_extra.sql", sql: "CREATE TABLE extra_table (x int);")
            let runner = try bundledRunner(adding: [extra], changing: "0100_baseline.sql")
            await #expect {
                try await runner.migrate(database.client)
            } throws: { error in
                guard case .changedAfterApply(let fileName, _, _) = error as? MigrationError else { return false }
                return fileName == "0100_baseline.sql"
                    && String(describing: error).contains("must never change")
            }
            #expect(try await database.client.scalar("SELECT to_regclass('extra_table') IS NULL", as: Bool.self))
        }
    }

    @Test("a database migrated by a newer oms is refused")
    func unknownAppliedRefused() async throws {
        try await TestDatabase.with(.migrated) { database in
            try await database.client.execute(
                """
                INSERT INTO oms_schema_migrations (version, file_name, checksum, execution_ms)
                VALUES (999, '0999_future.sql', 'abc', 1)
                """)
            await #expect(throws: MigrationError.unknownApplied(version: 999, fileName: "0999_future.sql")) {
                try await bundledRunner().migrate(database.client)
            }
        }
    }

    @Test("a failing migration leaves nothing of itself and names the file and line")
    func failedMigrationLeavesNothing() async throws {
        try await TestDatabase.with(.migrated) { database in
            let broken = Migration(
                version: 901, fileName: "0901_broken.sql",
                sql: "-- two statements\nCREATE TABLE half_done (x int);\nCREATE TABLE never (y no_such_type);\n")
            let runner = try bundledRunner(adding: [broken])
            await #expect {
                try await runner.migrate(database.client)
            } throws: { error in
                guard case .statementFailed(let file, let line, let message) = error as? MigrationError else {
                    return false
                }
                return file == "0901_broken.sql" && line == 3 && message.contains("no_such_type")
            }
            #expect(try await database.client.scalar("SELECT to_regclass('half_done') IS NULL", as: Bool.self))
            #expect(try await database.client.scalar("SELECT max(version) FROM oms_schema_migrations", as: Int.self) < 901)
        }
    }

    @Test("a changed current file is applied again, and only that file")
    func changedCurrentFileReapplied() async throws {
        try await TestDatabase.with(.migrated) { database in
            let runner = try bundledRunner(currentChanges: [
                "14_api_keys.sql": {
                    $0 + "\nCOMMENT ON FUNCTION oms_api_key_revoke(uuid) IS 'changed by a test';\n"
                },
            ])
            let summary = try await runner.migrate(database.client)
            #expect(summary.applied.isEmpty)
            #expect(summary.currentApplied == ["current/14_api_keys.sql"])
            #expect(try await database.client.scalar(
                "SELECT obj_description('oms_api_key_revoke(uuid)'::regprocedure, 'pg_proc')", as: String.self)
                == "changed by a test")
            let again = try await runner.migrate(database.client)
            #expect(again.currentApplied.isEmpty)
            // Back to the bundled file: applied again.
            #expect(try await bundledRunner().migrate(database.client).currentApplied == ["current/14_api_keys.sql"])
        }
    }

    @Test("a file that cannot have its lock within 2 s while other work holds the table is rolled back and run again (reads are not queued behind it), and applies once the lock is free")
    func lockConflictRetried() async throws {
        try await TestDatabase.with(.migrated) { database in
            // Only this file: nothing else of the run takes locks (every current file would be applied
            // again after a versioned one).
            let alter = CurrentSchemaFile(order: 99, fileName: "99_alter_busy_table.sql",
                                          sql: "ALTER TABLE oms_api_keys ADD COLUMN note text;")
            let runner = MigrationRunner(migrations: try Migration.bundled(), current: [alter], logger: logger)
            // Driven by what the server shows, not by the clock (windows of time failed on loaded
            // 2-core runs): a long transaction of the service's kind holds a read lock on the table
            // until a read that began while the migration's ALTER was seen queued for its lock has
            // ended. Only an ALTER that gives up its place lets that read through; one that waited
            // politely would hold the read until the holder let go, and the holder gives up at 90 s.
            let watch = LockWatch()
            let clock = ContinuousClock()
            async let released: (at: ContinuousClock.Instant, readHadPassed: Bool) = database.client.withConnection { connection in
                try await connection.query("SET application_name = 'lock holder'", logger: TestDatabase.logger)
                try await connection.query("BEGIN", logger: TestDatabase.logger)
                try await connection.query("LOCK TABLE oms_api_keys IN ACCESS SHARE MODE", logger: TestDatabase.logger)
                let deadline = clock.now + .seconds(90)
                while !watch.readPassedQueuedAlter, clock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                // Read before letting go: a read held behind the ALTER ends only after the COMMIT.
                let readHadPassed = watch.readPassedQueuedAlter
                let releasing = clock.now
                try await connection.query("COMMIT", logger: TestDatabase.logger)
                watch.holderReleased()
                return (releasing, readHadPassed)
            }
            while try await database.client.scalar(
                "SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'lock holder' AND state = 'idle in transaction'",
                as: Int.self) == 0 {
                try await Task.sleep(for: .milliseconds(20))
            }
            // Watches for the ALTER queued for its lock.
            async let watching: Void = {
                while !watch.released {
                    if try await database.client.scalar(
                        """
                        SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                                        WHERE query LIKE 'ALTER TABLE oms_api_keys%' AND wait_event_type = 'Lock')
                        """, as: Bool.self) { watch.sawAlterQueued() }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }()
            // The service's other work reads the table every 50 ms meanwhile.
            async let reads: Void = {
                while !watch.released {
                    let beganAfterAlterQueued = watch.alterQueued
                    _ = try await database.client.scalar("SELECT count(*)::int FROM oms_api_keys", as: Int.self)
                    if beganAfterAlterQueued { watch.readEnded() }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }()
            let summary = try await runner.migrate(database.client)
            let migrated = clock.now
            let (releasedAt, readHadPassed) = try await released
            try await reads
            try await watching
            #expect(readHadPassed, "a read that began while the migration was queued for its lock went through before the lock holder let go")
            #expect(watch.alterQueued, "the migration was seen waiting for its lock")
            #expect(summary.currentApplied == ["current/99_alter_busy_table.sql"])
            #expect(migrated > releasedAt, "it applied only once the lock holder let go")
            #expect(try await database.client.scalar(
                "SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'oms_api_keys' AND column_name = 'note'",
                as: Int.self) == 1)
        }
    }

    @Test("a versioned file that drops a view or function has it back from the current files in the same run")
    func versionedFileReappliesCurrentFiles() async throws {
        try await TestDatabase.with(.migrated) { database in
            let before = try await database.client.schemaFingerprint()
            let drop = Migration(
                version: 902, fileName: "0902_drop_and_change.sql",
                sql: """
                    DROP VIEW oms_active_outages;
                    DROP FUNCTION oms_outage_detail(text);
                    ALTER TABLE oms_api_keys ADD COLUMN note text;
                    """)
            let summary = try await bundledRunner(adding: [drop]).migrate(database.client)
            #expect(summary.applied == ["0902_drop_and_change.sql"])
            #expect(summary.currentApplied == (try CurrentSchemaFile.bundled()).map(\.path))
            let after = try await database.client.schemaObjects()
            #expect(after.filter { !($0.kind == "col" && $0.name == "oms_api_keys.note") }.map(\.description)
                .joined(separator: "\n") == before)
        }
    }

    @Test("the same files apply with plain psql -f load.sql, giving the same schema")
    func psqlAppliesTheSameFiles() async throws {
        let folder = try #require(Migration.bundledSchemaFolder)
        let load = try String(contentsOf: folder.appendingPathComponent("load.sql"), encoding: .utf8)
        let included = load.split(separator: "\n").filter { $0.hasPrefix("\\ir ") }.map { String($0.dropFirst(4)) }
        let expected = try Migration.bundled().map { "versioned/\($0.fileName)" } + CurrentSchemaFile.bundled().map(\.path)
        #expect(included == expected, "load.sql must include every schema file, in the runner's order")

        let viaPsql = try await TestDatabase.with(.empty) { database in
            try await database.psqlFiles([folder.appendingPathComponent("load.sql").path])
            return try await database.client.schemaObjects(comments: true)
        }
        let viaRunner = try await TestDatabase.with(.empty) { database in
            try await bundledRunner().migrate(database.client)
            return try await database.client.schemaObjects(comments: true)
        }
        #expect(viaPsql == viaRunner)
        #expect(viaPsql.contains { $0.kind == "view" && $0.name == "oms_active_outages" })
    }

    @Test("two runs at once apply each migration once")
    func concurrentRunsApplyOnce() async throws {
        try await TestDatabase.with(.empty) { database in
            let runner = try bundledRunner()
            async let first = runner.migrate(database.client)
            async let second = runner.migrate(database.client)
            let (a, b) = try await (first, second)
            #expect(a.applied.count + b.applied.count == runner.migrations.count)
            #expect(a.currentApplied.count + b.currentApplied.count == runner.current.count)
            #expect(try await database.client.scalar("SELECT count(*)::int FROM oms_schema_migrations", as: Int.self)
                    == runner.migrations.count)
        }
    }

    @Test("the settings the service relies on are installed with their defaults")
    func settingsDefaults() async throws {
        try await TestDatabase.with(.migrated) { database in
            for key in SettingKey.all {
                let value = try await database.client.scalar(
                    "SELECT value::text FROM oms_settings WHERE key = \(key.name)", as: String.self)
                #expect(value == key.defaultValue, "setting \(key.name)")
            }
            await #expect(throws: (any Error).self) {
                try await database.client.execute("SELECT oms_setting('no.such_setting')")
            }
        }
    }
}

/// What the lock-conflict test's concurrent tasks have seen: the migration's ALTER queued for its
/// lock, a read begun after that which ended, the lock holder gone.
private final class LockWatch: Sendable {
    private struct State {
        var alterQueued = false
        var readPassedQueuedAlter = false
        var released = false
    }
    private let state = Mutex(State())

    var alterQueued: Bool { state.withLock { $0.alterQueued } }
    var readPassedQueuedAlter: Bool { state.withLock { $0.readPassedQueuedAlter } }
    var released: Bool { state.withLock { $0.released } }
    func sawAlterQueued() { state.withLock { $0.alterQueued = true } }
    func readEnded() { state.withLock { $0.readPassedQueuedAlter = true } }
    func holderReleased() { state.withLock { $0.released = true } }
}
