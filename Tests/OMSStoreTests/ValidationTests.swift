import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("The validation checklist")
struct ValidationTests {
    func report(_ client: PostgresClient) async throws -> [String: ValidationCheck] {
        let checks = try await SchemaInspector(client: client, logger: TestDatabase.logger).validationReport()
        return Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0) })
    }

    @Test("an empty registry fails 'registry populated'; the views and indexes still pass")
    func emptyRegistry() async throws {
        try await TestDatabase.with(.migrated) { database in
            let checks = try await report(database.client)
            #expect(checks["registry populated"]?.passed == false)
            #expect(checks["substation mapping populated"]?.passed == false)
            #expect(checks["views answer"]?.passed == true)
            #expect(checks["foreign keys indexed"]?.passed == true)
            #expect(checks["feeds link to oms_meters"]?.passed == true)
        }
    }

    @Test("the sample network passes every check")
    func sampleNetworkPasses() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let checks = try await report(database.client)
            #expect(checks.count == 12)
            #expect(checks.values.filter { !$0.passed }.map(\.name) == [])
        }
    }

    @Test("a mapping out of step with the registry is reported")
    func inconsistentMapping() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            try await database.client.execute(
                """
                DELETE FROM network_substation_meters
                 WHERE meter_id IN (SELECT id FROM oms_meters WHERE meter_number IN ('M12345678', 'M10000002'))
                """)
            let check = try #require(try await report(database.client)["substation mapping consistent with registry"])
            #expect(!check.passed)
            #expect(check.detail.hasPrefix("2 meters missing their link"))
        }
    }

    @Test("a foreign key without an index is named")
    func unindexedForeignKey() async throws {
        try await TestDatabase.with(.migrated) { database in
            try await database.client.execute(
                "CREATE TABLE crew_assignments (id int PRIMARY KEY, outage_id uuid REFERENCES oms_outage_events (id))")
            let check = try #require(try await report(database.client)["foreign keys indexed"])
            #expect(!check.passed)
            #expect(check.detail.contains("crew_assignments(outage_id)"))
        }
    }

    @Test("a broken view is reported, not fatal")
    func brokenView() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            try await database.client.execute(
                                """
                CREATE OR REPLACE FUNCTION oms_classify_meter(
                    p_power_status text, p_communication_status text, p_last_communication timestamptz DEFAULT NULL,
                    p_at timestamptz DEFAULT NULL, p_timeout interval DEFAULT NULL)
                RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'division by zero, pretend'; END $$
                """)
            let check = try #require(try await report(database.client)["views answer"])
            #expect(!check.passed)
            #expect(check.detail.contains("division by zero"))
        }
    }
}
