import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// Issue 14: the schema as versioned and current files is the schema the numbered
/// migrations 0001–0031 built, a database they built upgrades in place, and every
/// function and view has one home.
@Suite("Schema layout: versioned and current files")
struct SchemaLayoutTests {
    let logger = TestDatabase.logger

    /// Functions the old chain installed that nothing calls, dropped by 0101_drop_dead_functions.sql.
    static let removedFunctions: Set<String> = ["oms_batch_plan"]
    /// The settings the old chain installed.
    static let legacySettings = [
        "meter.communication_timeout_minutes", "scada.confidence", "kaifa.confidence", "onu.confidence",
        "call_center.confidence", "manual.confidence", "system.confidence", "correlation.window_minutes",
        "correlation.confirm_confidence", "scada.critical_alarms", "call_center.strip_leading_zeros",
        "proximity.dp_radius_km", "proximity.feeder_radius_km", "proximity.substation_radius_km",
        "import.bulk_load_min_rows", "feeds.max_future_minutes", "feeds.earliest_event_time",
    ]
    /// Functions an index or a constraint is built on: defined in the versioned baseline.
    static let versionedFunctions: Set<String> = ["oms_normalize_code", "oms_meter_number_key", "oms_phone_key"]

    /// Every row of every table, as a digest per table (count and md5 of the rows as text).
    /// Each table's columns, in order (what `data` digests).
    func columns(_ client: PostgresClient) async throws -> [String: [String]] {
        let rows = try await client.fetch(
            """
            SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname NOT LIKE 'oms_schema_%'
               AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY c.relname, a.attnum
            """, logger: logger)
        var columns: [String: [String]] = [:]
        for (table, column) in try rows.decode((String, String).self) { columns[table, default: []].append(column) }
        return columns
    }

    /// A digest of every row of the given tables, over the given columns (a later version's new
    /// columns are left out, so that "no row touched" compares what was there).
    func data(_ client: PostgresClient, of tables: [String: [String]]) async throws -> [String: String] {
        var digests: [String: String] = [:]
        for (name, columns) in tables {
            let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
            // Settings a later version adds are new rows, not touched ones.
            let only = name == "oms_settings" ? " WHERE key IN (\(Self.legacySettings.map { "'\($0)'" }.joined(separator: ", ")))" : ""
            digests[name] = try await client.scalar(
                PostgresQuery(unsafeSQL: "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM (SELECT \(list) FROM \(name)\(only)) t"),
                as: String.self)
        }
        return digests
    }

    func time(_ offsetSeconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offsetSeconds)))
    }

    /// A database built by the old chain, with the sample network, an outage that all four feeds
    /// joined, a meter status history, an API key, a registry migration run and a staged source.
    func legacyDatabaseWithData(_ client: PostgresClient) async throws {
        let summary = try await MigrationRunner(migrations: try LegacyChain.migrations(), logger: logger).migrate(client)
        #expect(summary.schemaVersion == 31)
        try await SampleNetwork.load(into: client, logger: logger)
        try await client.execute(
            """
            SELECT insert_scada_event_with_meter_check(
                '{"eventId": "U-SCADA", "eventType": "breaker_trip", "alarmType": "fault", "substationId": "SS001",
                  "feederId": "FD002", "timestamp": "\(unescaped: time(-600))"}')
            """)
        try await client.execute(
            """
            SELECT insert_kaifa_events_with_meter_sync(jsonb_build_array(jsonb_build_object(
                'mRID', 'U-KAIFA', 'createdDateTime', '\(unescaped: time(-590))', 'eventTypeRef', '3.26.0.47',
                'assetMRID', (SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000304'))))
            """)
        try await client.execute(
            """
            SELECT insert_onu_event_from_json_with_meter_sync(
                '{"type": "ONU_LastGaspAlert", "eventId": "U-ONU", "onuId": "ONU-000303", "timestamp": "\(unescaped: time(-580))"}')
            """)
        try await client.execute(
            """
            SELECT insert_callcenter_ticket_from_json_with_meter_link(
                '{"ticketId": "U-CALL", "timestamp": "\(unescaped: time(-570))",
                  "customer": {"meterNumber": "M10000306"}, "troubleCode": "power_down"}')
            """)
        try await client.execute(
            "SELECT update_meter_status('M10000401', 'off', 'manual_status_change', 'manual', 'U-MANUAL')")
        try await client.execute(
            "SELECT oms_api_key_create('oms_upgrade_test_key_0123456789abcdefghij', ARRAY['read'], 'upgrade')")
        try await client.execute(
            "INSERT INTO oms_registry_sources (source, meter_number, onu_serial) VALUES ('onu_inventory', 'M10000305', 'HWTC0000ABCD')")
        try await client.execute("SELECT oms_migrate_registry()")
        try await client.execute("UPDATE oms_settings SET value = '30' WHERE key = 'correlation.window_minutes'")
        #expect(try await client.scalar(
            "SELECT count(*)::int || ' ' || min(array_length(source_types, 1)) FROM oms_active_outages", as: String.self)
            == "1 4")
    }

    @Test("function bodies compare without comments and layout, but token by token")
    func bodiesNormalised() {
        #expect(SQLText.normalized("SELECT  a,\n  b -- note\nFROM t /* x */") == "SELECT a,b FROM t")
        #expect(SQLText.normalized("SELECT '--not a comment'  ,  \"x  y\"") == #"SELECT'--not a comment',"x  y""#)
        #expect(SQLText.normalized("SELECT 1 FROM t") != SQLText.normalized("SELECT 2 FROM t"))
        #expect(SQLText.normalized("SELECT a b") != SQLText.normalized("SELECT ab"))
    }

    /// The last version of issue 14's layout (baseline and the removal of dead functions): the
    /// versioned files after it change the schema on purpose.
    static let layoutVersion = 101

    @Test("the baseline holds exactly the old chain's tables, columns, constraints, indexes, settings and code rows")
    func baselineEqualsOldChain() async throws {
        // Functions, triggers and views live in the current files, which later issues change on
        // purpose; the in-place upgrade below compares them with a fresh install. (Issue 14 checked
        // them against the old chain too: fn 99, view 7, all equal but oms_batch_plan.)
        let compared: Set<String> = ["rel", "col", "con", "idx", "setting", "row"]
        let old = try await TestDatabase.with(.empty) { database in
            try await MigrationRunner(migrations: try LegacyChain.migrations(), logger: logger).migrate(database.client)
            // Views live in the current files: their columns and relations are left out too.
            let objects = try await database.client.schemaObjects()
            let views = Set(objects.filter { $0.kind == "view" }.map(\.name))
            return objects.filter { object in
                compared.contains(object.kind)
                    && !(object.kind == "rel" && views.contains(object.name))
                    && !(object.kind == "col" && views.contains(String(object.name.prefix { $0 != "." })))
            }
        }
        let new = try await TestDatabase.with(.empty) { database in
            let bundled = try MigrationRunner.bundled(logger: logger)
            try await MigrationRunner(migrations: bundled.migrations.filter { $0.version <= Self.layoutVersion }, logger: logger)
                .migrate(database.client)
            return try await database.client.schemaObjects().filter { compared.contains($0.kind) }
        }
        let onlyOld = Set(old).subtracting(new)
        let onlyNew = Set(new).subtracting(old)
        #expect(onlyNew.isEmpty, "only in the baseline: \(onlyNew.sorted())")
        #expect(onlyOld.isEmpty, "only in the old chain: \(onlyOld.sorted())")
        #expect(Set(new.map(\.kind)) == compared)
    }

    @Test("a database at version 31 of the old chain is upgraded in place: data intact, catalog of a fresh install")
    func legacyDatabaseUpgradesInPlace() async throws {
        let fresh = try await TestDatabase.with(.empty) { database in
            try await MigrationRunner.bundled(logger: logger).migrate(database.client)
            return try await database.client.schemaObjects(comments: true)
        }
        #expect(!fresh.contains { $0.kind == "fn" && Self.removedFunctions.contains($0.name) })
        try await TestDatabase.with(.empty) { database in
            let client = database.client
            try await legacyDatabaseWithData(client)
            let tables = try await columns(client)
            let before = try await data(client, of: tables)

            let runner = try MigrationRunner.bundled(logger: logger)
            let summary = try await runner.migrate(client)
            #expect(summary.baselined == ["0100_baseline.sql"])
            #expect(summary.applied == runner.migrations.dropFirst().map(\.fileName))
            #expect(summary.currentApplied == runner.current.map(\.path))
            #expect(summary.alreadyApplied == 31)
            #expect(summary.schemaVersion == runner.migrations.last?.version)

            #expect(try await data(client, of: tables) == before, "the upgrade touched no row")
            // Settings are data here (this database tuned one, which stays tuned): compared by data() above.
            let upgraded = Set(try await client.schemaObjects(comments: true).filter { $0.kind != "setting" })
            let expected = Set(fresh.filter { $0.kind != "setting" })
            #expect(upgraded.symmetricDifference(expected).isEmpty,
                    "differs from a fresh install: \(upgraded.symmetricDifference(expected).sorted())")
            #expect(try await client.scalar(
                "SELECT string_agg(key, ',' ORDER BY key) FROM oms_settings", as: String.self)
                == fresh.filter { $0.kind == "setting" }.map(\.name).sorted().joined(separator: ","))
            // The history keeps the old records and the baseline, recorded without running it.
            #expect(try await client.scalar(
                "SELECT string_agg(version::text, ',' ORDER BY version) FROM oms_schema_migrations WHERE version >= 31",
                as: String.self) == "31," + runner.migrations.map { String($0.version) }.joined(separator: ","))
            #expect(try await client.scalar(
                "SELECT execution_ms FROM oms_schema_migrations WHERE version = 100", as: Int.self) == 0)

            // Again: nothing to do. And the upgraded database works: the outage takes a restoration.
            let again = try await runner.migrate(client)
            #expect(again.applied.isEmpty && again.currentApplied.isEmpty && again.baselined.isEmpty)
            try await client.execute(
                """
                SELECT insert_kaifa_event_from_json_with_meter_sync(jsonb_build_object(
                    'mRID', 'U-KAIFA-UP', 'createdDateTime', '\(unescaped: time(-100))', 'eventTypeRef', '3.26.0.216',
                    'assetMRID', (SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000304')))
                """)
            #expect(try await client.scalar(
                "SELECT power_status FROM oms_meters WHERE meter_number = 'M10000304'", as: String.self) == "on")
        }
    }

    @Test("a database with only part of the old chain, or a changed old file, is refused")
    func partialOrChangedLegacyRefused() async throws {
        try await TestDatabase.with(.empty) { database in
            try await MigrationRunner(migrations: try LegacyChain.migrations(upTo: 18), logger: logger).migrate(database.client)
            await #expect(throws: MigrationError.legacyIncomplete(version: 18, fileName: "0018_indexed_outage_cover.sql")) {
                try await MigrationRunner.bundled(logger: logger).migrate(database.client)
            }
            #expect(try await database.client.scalar("SELECT max(version) FROM oms_schema_migrations", as: Int.self) == 18)
        }
        try await TestDatabase.with(.empty) { database in
            try await MigrationRunner(migrations: try LegacyChain.migrations(), logger: logger).migrate(database.client)
            try await database.client.execute("UPDATE oms_schema_migrations SET checksum = 'abc' WHERE version = 5")
            await #expect {
                try await MigrationRunner.bundled(logger: logger).migrate(database.client)
            } throws: { error in
                guard case .changedAfterApply(let fileName, _, _) = error as? MigrationError else { return false }
                return fileName == "0005_meter_status_audit.sql"
            }
        }
    }

    @Test("the legacy files kept for the tests are the ones LegacySchema recognises")
    func legacyFilesMatchTheirRecords() async throws {
        let files = try LegacyChain.migrations()
        #expect(files.map(\.fileName) == LegacySchema.fileNames)
        #expect(files.map(\.version) == Array(1...31))
        try await TestDatabase.with(.empty) { database in
            let checksums = try await database.client.fetch(
                "SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex') FROM unnest(\(files.map(\.sql))::text[]) WITH ORDINALITY AS x(t, n) ORDER BY n",
                logger: logger)
            var computed: [String] = []
            for checksum in try checksums.decode(String.self) { computed.append(checksum) }
            #expect(computed == LegacySchema.files.map(\.checksum))
        }
    }

    @Test("every function and view is defined exactly once, functions and views in the current files")
    func everyDefinitionHasOneHome() async throws {
        let versioned = try Migration.bundled().map { ("versioned/\($0.fileName)", $0.sql) }
        let current = try CurrentSchemaFile.bundled().map { ($0.path, $0.sql) }
        func definitions(_ pattern: String, in files: [(String, String)]) throws -> [String: [String]] {
            let regex = try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines, .caseInsensitive])
            var found: [String: [String]] = [:]
            for (path, sql) in files {
                // Definitions only: not the text of comments.
                let code = sql.split(separator: "\n", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") ? "" : String($0) }
                    .joined(separator: "\n")
                for match in regex.matches(in: code, range: NSRange(code.startIndex..., in: code)) {
                    let name = (code as NSString).substring(with: match.range(at: 1)).lowercased()
                    found[name, default: []].append(path)
                }
            }
            return found
        }
        let function = #"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)\s*\("#
        let view = #"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(\w+)"#
        let trigger = #"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s+(\w+)"#
        let functionsInCurrent = try definitions(function, in: current)
        let functionsInVersioned = try definitions(function, in: versioned)
        let views = try definitions(view, in: current)
        let triggers = try definitions(trigger, in: current)
        #expect(try definitions(view, in: versioned).isEmpty && definitions(trigger, in: versioned).isEmpty)
        #expect(Set(functionsInVersioned.keys) == Self.versionedFunctions)
        // Current files replace what they define: no plain CREATE of a function, view or trigger.
        let plain = try definitions(#"^\s*CREATE\s+(?:FUNCTION|VIEW|TRIGGER)\s+(\w+)"#, in: current)
        #expect(plain.isEmpty, "plain CREATE in current files: \(plain)")

        try await TestDatabase.with(.migrated) { database in
            var catalog: [String: Set<String>] = ["fn": [], "view": [], "trg": []]
            for object in try await database.client.schemaObjects() where catalog[object.kind] != nil {
                catalog[object.kind]?.insert(object.kind == "trg"
                    ? String(object.name.split(separator: ".").last!) : object.name)
            }
            let catalogFunctions = try #require(catalog["fn"])
            for name in catalogFunctions {
                let homes = (functionsInCurrent[name] ?? []) + (functionsInVersioned[name] ?? [])
                #expect(homes.count == 1, "function \(name) is defined in \(homes)")
            }
            #expect(Set(functionsInCurrent.keys).union(functionsInVersioned.keys) == catalogFunctions)
            #expect(Set(views.keys) == catalog["view"] && views.values.allSatisfy { $0.count == 1 }, "views: \(views)")
            let catalogTriggers = catalog["trg"] ?? []
            #expect(Set(triggers.keys) == catalogTriggers && triggers.values.allSatisfy { $0.count == 1 },
                    "triggers only in files: \(Set(triggers.keys).subtracting(catalogTriggers).sorted()), only in the catalog: \(catalogTriggers.subtracting(triggers.keys).sorted())")
        }
    }
}
