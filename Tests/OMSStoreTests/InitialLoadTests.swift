import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The initial-load path of an import (0023), the set-based checks of new meters
/// (0024), and the order of a folder's files when the next one is staged early.
@Suite("Initial load: indexes and keys built after the rows; new meters checked as a set")
struct InitialLoadTests {
    let files = RegistryImportTests()

    /// The CSV network of RegistryImportTests, with a meters file that has bad rows too.
    func folder() throws -> String {
        var csv = Dictionary(uniqueKeysWithValues: RegistryImportTests.csv.map { ("\($0.key.rawValue).csv", $0.value) })
        csv["meters.csv"] = RegistryImportTests.csv[.meters]! + "\n" + """
            M5,C9,,,,,,,,,,
            M6,,D1,F3,,,,,,,,
            M7,,,,,,,A-1,,,,
            M8,,D1,F1,SS2,,,,,,,
            """
        return try files.folder(csv)
    }

    /// Every index and constraint of the schema, by name and definition.
    func schema(_ client: PostgresClient) async throws -> String {
        try await client.scalar(
            """
            SELECT string_agg(definition, E'\\n' ORDER BY definition) FROM (
                SELECT indexname || ': ' || indexdef AS definition FROM pg_indexes WHERE schemaname = 'public'
                UNION ALL
                SELECT conrelid::regclass || '.' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
                 WHERE connamespace = 'public'::regnamespace
            ) d
            """, as: String.self)
    }

    func indexOID(_ client: PostgresClient) async throws -> Int {
        try await client.scalar("SELECT 'oms_meters_dp_idx'::regclass::oid::int", as: Int.self)
    }

    @Test("an initial load gives the same rows, refusals, indexes and keys as a row-by-row import")
    func initialLoadMatchesRowByRow() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func load(minimumRows: Int) async throws -> (contents: String, refused: [String], schema: String, rebuilt: Bool) {
            try await TestDatabase.with(.migrated) { database in
                let client = database.client
                try await client.execute(
                    "UPDATE oms_settings SET value = to_jsonb(\(minimumRows)) WHERE key = 'import.bulk_load_min_rows'")
                let before = try await schema(client)
                let indexBefore = try await indexOID(client)
                let summaries = try await files.importAll(folder, client: client)
                #expect(summaries.map(\.inserted) == [2, 3, 3, 3, 4])
                let after = try await schema(client)
                #expect(after == before)
                let rebuilt = try await indexOID(client) != indexBefore
                let refused = summaries.flatMap { $0.rejects.map { "\($0.line) \($0.field ?? "-"): \($0.reason)" } }
                return (try await files.contents(client), refused, after, rebuilt)
            }
        }
        let bulk = try await load(minimumRows: 1)
        let rowByRow = try await load(minimumRows: 0)
        #expect(bulk.rebuilt, "with import.bulk_load_min_rows = 1 the empty tables' indexes are built after the rows")
        #expect(!rowByRow.rebuilt, "with import.bulk_load_min_rows = 0 they are left alone")
        #expect(bulk.contents == rowByRow.contents)
        #expect(bulk.schema == rowByRow.schema)
        #expect(bulk.refused == rowByRow.refused)
        #expect(bulk.refused == [
            #"6 customer_id: no customer "C9""#,
            "7 feeder_id: distribution point D1 is on feeder F1, not on F3",
            "8 asset_mrid: asset mRID A-1 is also on line 2",
            "9 substation_id: feeder F1 belongs to substation SS1, not to SS2",
        ])
    }

    @Test("a table that already has rows is imported row by row, whatever its size")
    func nonEmptyTableKeepsItsIndexes() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            try await client.execute("UPDATE oms_settings SET value = '1' WHERE key = 'import.bulk_load_min_rows'")
            let indexBefore = try await indexOID(client)
            _ = try await files.importAll(folder, client: client)
            #expect(try await indexOID(client) == indexBefore)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meters WHERE meter_number IN ('M1', 'M2', 'M3', 'M4')", as: Int.self) == 4)
        }
    }

    @Test("a bulk load whose rows break a key rolls back, indexes and keys included")
    func failedBulkLoadRollsBack() async throws {
        try await TestDatabase.with(.migrated) { database in
            let before = try await schema(database.client)
            let output = try await database.psqlScript(
                """
                \\set ON_ERROR_STOP 0
                BEGIN;
                SELECT oms_bulk_load_begin(ARRAY['oms_meters'::regclass]) > 0 AS dropped;
                INSERT INTO oms_meters (meter_number, customer_id) VALUES ('M-ORPHAN', gen_random_uuid());
                SELECT oms_bulk_load_end();
                ROLLBACK;
                SELECT oms_bulk_load_end();
                SELECT count(*) AS meters FROM oms_meters;
                """)
            #expect(output.contains("violates foreign key constraint \"oms_meters_customer_id_fkey\""))
            #expect(output.contains("no bulk load is under way in this session"))
            #expect(try await database.client.scalar("SELECT count(*)::int FROM oms_meters", as: Int.self) == 0)
            #expect(try await schema(database.client) == before)
        }
    }

    @Test("meters inserted with all their levels are checked in one statement; one that disagrees refuses them all",
          arguments: [
            ("'FD001-DP01'", "'FD002'", "'SS001'", "meter M-BAD: distribution point FD001-DP01 is on feeder FD001, not on feeder FD002"),
            ("NULL", "'FD004'", "'SS001'", "meter M-BAD: feeder FD004 belongs to substation SS002, not to substation SS001"),
          ])
    func setBasedTopologyCheck(dp: String, feeder: String, substation: String, message: String) async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let count = try await client.scalar("SELECT count(*)::int FROM oms_meters", as: Int.self)
            await #expect {
                try await client.execute(
                    """
                    INSERT INTO oms_meters (meter_number, dp_id, feeder_id, substation_id)
                    SELECT v.meter_number,
                           (SELECT id FROM network_distribution_points WHERE dp_id = v.dp),
                           (SELECT id FROM network_feeders WHERE feeder_id = v.feeder),
                           (SELECT id FROM network_substations WHERE substation_id = v.substation)
                      FROM (VALUES ('M-GOOD', 'FD001-DP01', 'FD001', 'SS001'),
                                   ('M-BAD', \(unescaped: dp), \(unescaped: feeder), \(unescaped: substation)))
                           AS v (meter_number, dp, feeder, substation)
                    """)
            } throws: { error in
                error.readableDatabaseMessage.contains(message)
            }
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meters", as: Int.self) == count)
            // A meter that gives only its DP still gets its feeder and substation, and its links.
            try await client.execute(
                """
                INSERT INTO oms_meters (meter_number, dp_id)
                SELECT 'M-DERIVED', id FROM network_distribution_points WHERE dp_id = 'FD001-DP01'
                """)
            let derived = try await client.scalar(
                """
                SELECT concat_ws(' ', f.feeder_id, s.substation_id, m.topology_source,
                                 (SELECT count(*) FROM network_feeder_meters l WHERE l.meter_id = m.id),
                                 (SELECT count(*) FROM network_substation_meters l WHERE l.meter_id = m.id))
                  FROM oms_meters m JOIN network_feeders f ON f.id = m.feeder_id
                  JOIN network_substations s ON s.id = m.substation_id
                 WHERE m.meter_number = 'M-DERIVED'
                """, as: String.self)
            #expect(derived == "FD001 SS001 explicit 1 1")
        }
    }

    @Test("a file that cannot be read stops a folder's import: files before it are committed, files after it are not written")
    func failedFileStopsTheFolder() async throws {
        var csv = Dictionary(uniqueKeysWithValues: RegistryImportTests.csv.map { ("\($0.key.rawValue).csv", $0.value) })
        csv["customers.csv"] = "customer_id,nmae\nC1,Amal\n"
        let folder = try files.folder(csv)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestDatabase.with(.migrated) { database in
            await #expect {
                _ = try await files.importAll(folder, client: database.client)
            } throws: { error in
                (error as? RegistryFileError)?.reason.contains(#"unknown column "nmae""#) == true
            }
            let counts = try await database.client.scalar(
                """
                SELECT concat_ws(' ', (SELECT count(*) FROM network_substations), (SELECT count(*) FROM network_feeders),
                                 (SELECT count(*) FROM network_distribution_points), (SELECT count(*) FROM oms_customers),
                                 (SELECT count(*) FROM oms_meters))
                """, as: String.self)
            #expect(counts == "2 3 3 0 0")
        }
    }
}
