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
            #expect(checks.count == 17)
            #expect(checks.values.filter { !$0.passed }.map(\.name) == [])
        }
    }

    @Test("how the registry was populated: duplicates, conflicts, meters without topology, inferred links")
    func registryPopulation() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            var checks = try await report(client)
            #expect(checks["registry duplicates left"]?.passed == true)
            #expect(checks["registry conflicts open"]?.passed == true)
            #expect(checks["meters without topology"]?.passed == true)
            #expect(checks["topology explicit/inferred"]?.detail.hasPrefix("2700 explicit, 0 inferred") == true)

            // The same meter twice, as typed differently; a meter with a location but no topology.
            try await client.execute(
                """
                INSERT INTO oms_meters (meter_number, location_lat, location_lng)
                VALUES ('m-1000-0001', NULL, NULL), ('M10000001 ', NULL, NULL),
                       ('LOOSE-1', (SELECT location_lat FROM network_distribution_points ORDER BY dp_id LIMIT 1),
                                   (SELECT location_lng FROM network_distribution_points ORDER BY dp_id LIMIT 1))
                """)
            checks = try await report(client)
            let duplicates = try #require(checks["registry duplicates left"])
            #expect(!duplicates.passed)
            #expect(duplicates.detail.contains("1 groups of active meters share a normalised meter number (2 meters): M10000001  = m-1000-0001"))
            let loose = try #require(checks["meters without topology"])
            #expect(!loose.passed)
            #expect(loose.detail.hasPrefix("3 of 2703 active meters are under no substation"))

            // Proximity links the located one, as inferred.
            try await client.execute("SELECT * FROM oms_link_meters_by_proximity()")
            checks = try await report(client)
            #expect(checks["meters without topology"]?.detail.hasPrefix("2 of 2703") == true)
            let links = try #require(checks["topology explicit/inferred"])
            #expect(links.detail.hasPrefix("2700 explicit, 1 inferred by proximity (distance mean 0.000 km"), "\(links.detail)")

            // Two sources disagree on a meter's ONU: the registry migration reports it, validate fails on it.
            try await client.execute(
                """
                INSERT INTO oms_registry_sources (source, meter_number, onu_id) VALUES ('cis', 'M10000002', 'ONU-A'),
                                                                                        ('onu_inventory', 'M10000002', 'ONU-B')
                """)
            try await client.execute("SELECT oms_migrate_registry()")
            checks = try await report(client)
            let conflicts = try #require(checks["registry conflicts open"])
            #expect(!conflicts.passed)
            #expect(conflicts.detail.contains("in onu_id"))
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
