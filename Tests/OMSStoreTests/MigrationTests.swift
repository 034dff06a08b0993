import Foundation
import OMSDomain
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("Schema migrations")
struct MigrationTests {
    let logger = TestDatabase.logger

    func bundledRunner(adding extra: [Migration] = [], changing fileName: String? = nil) throws -> MigrationRunner {
        var migrations = try Migration.bundled().map { migration in
            migration.fileName == fileName
                ? Migration(version: migration.version, fileName: migration.fileName, sql: migration.sql + "\n-- edited\n")
                : migration
        }
        migrations += extra
        return MigrationRunner(migrations: migrations, logger: logger)
    }

    @Test("migrations apply to an empty database and create the seed's objects")
    func appliesToEmptyDatabase() async throws {
        let bundled = try Migration.bundled()
        try await TestDatabase.with(.empty) { database in
            let summary = try await MigrationRunner(migrations: bundled, logger: logger).migrate(database.client)
            #expect(summary.applied == bundled.map(\.fileName))
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
            #expect(again.alreadyApplied == runner.migrations.count)
            #expect(try await database.client.schemaFingerprint() == before)
        }
    }

    @Test("the recorded checksum is the file's SHA-256")
    func checksumIsSHA256() async throws {
        try await TestDatabase.with(.migrated) { database in
            let first = try #require(try Migration.bundled().first)
            let recorded = try await database.client.scalar(
                "SELECT checksum FROM oms_schema_migrations WHERE version = \(first.version)", as: String.self)
            let computed = try await database.client.scalar(
                "SELECT encode(sha256(convert_to(\(first.sql), 'UTF8')), 'hex')", as: String.self)
            #expect(recorded == computed)
            #expect(recorded.count == 64)
        }
    }

    @Test("an applied migration that changed is refused, and nothing else is applied")
    func changedMigrationRefused() async throws {
        try await TestDatabase.with(.migrated) { database in
            let extra = Migration(version: 900, fileName: "0900_extra.sql", sql: "CREATE TABLE extra_table (x int);")
            let runner = try bundledRunner(adding: [extra], changing: "0003_meter_registry.sql")
            await #expect {
                try await runner.migrate(database.client)
            } throws: { error in
                guard case .changedAfterApply(let fileName, _, _) = error as? MigrationError else { return false }
                return fileName == "0003_meter_registry.sql"
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

    @Test("the same files apply in order with plain psql -f, giving the same schema")
    func psqlAppliesTheSameFiles() async throws {
        let folder = try #require(Migration.bundledFolder)
        let paths = try Migration.bundled().map { folder.appendingPathComponent($0.fileName).path }
        let viaPsql = try await TestDatabase.with(.empty) { database in
            try await database.psqlFiles(paths)
            return try await database.client.schemaFingerprint()
        }
        let viaRunner = try await TestDatabase.with(.empty) { database in
            try await bundledRunner().migrate(database.client)
            return try await database.client.schemaFingerprint()
        }
        #expect(viaPsql == viaRunner)
        #expect(viaPsql.contains("view oms_active_outages"))
    }

    @Test("two runs at once apply each migration once")
    func concurrentRunsApplyOnce() async throws {
        try await TestDatabase.with(.empty) { database in
            let runner = try bundledRunner()
            async let first = runner.migrate(database.client)
            async let second = runner.migrate(database.client)
            let (a, b) = try await (first, second)
            #expect(a.applied.count + b.applied.count == runner.migrations.count)
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
