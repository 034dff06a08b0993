import ArgumentParser
import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI

/// `oms migrate-registry` against a test database (--database-url).
@Suite("oms migrate-registry", .serialized)
struct MigrateRegistryCommandTests: RunsOMSCommands {
    /// Sources with one duplicate spelling, one ONU event to attach and one conflict.
    func fillSources(_ client: PostgresClient) async throws {
        try await client.execute("INSERT INTO oms_meters (meter_number, onu_id) VALUES ('M500', 'ONU-500')")
        try await client.execute(
            """
            INSERT INTO oms_registry_sources (source, meter_number, onu_id, onu_serial) VALUES
                ('cis', 'M001', NULL, NULL),
                ('onu_inventory', 'M200', NULL, 'HWTC000000C8'),
                ('onu_inventory', 'M500', 'ONU-999', NULL)
            """)
        try await client.execute(
            "INSERT INTO callcenter_tickets (ticket_id, event_timestamp, meter_number, raw) VALUES ('T1', now(), 'm-001 ', '{}')")
        try await client.execute(
            """
            INSERT INTO onu_events (source_event_id, event_type, onu_id, onu_serial, event_timestamp, raw)
            VALUES ('E1', 'ONU_LastGaspAlert', 'ONU-200', 'HWTC000000C8', now(), '{}')
            """)
    }

    @Test("--dry-run writes nothing; a run builds the registry and records what it did")
    func dryRunThenRun() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            let url = try await TestDatabase.server().connectionURL(database: database.name)
            try await fillSources(client)
            try await run(["migrate-registry", "--dry-run", "--database-url", url])
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_meters", as: Int.self) == 1)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_registry_migration_runs", as: Int.self) == 0)

            try await run(["migrate-registry", "--database-url", url, "--limit", "1"])
            #expect(try await client.scalar(
                "SELECT string_agg(meter_number || ':' || coalesce(onu_id, '-'), ',' ORDER BY meter_number) FROM oms_meters",
                as: String.self) == "M001:-,M200:ONU-200,M500:ONU-500")
            #expect(try await client.scalar(
                "SELECT meters_inserted || ' ' || merged_groups || ' ' || conflicts FROM oms_registry_migration_runs",
                as: String.self) == "2 3 1")
            // Every merged group is kept, whatever --limit printed.
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_registry_merges", as: Int.self) == 3)

            try await run(["migrate-registry", "--database-url", url, "--json"])
            #expect(try await client.scalar(
                "SELECT meters_inserted + meters_updated FROM oms_registry_migration_runs ORDER BY id DESC LIMIT 1",
                as: Int.self) == 0)
        }
    }

    @Test("the text report: counts, each merged group with its survivor and records, each conflict")
    func render() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            try await fillSources(client)
            let report = try await RegistryMigration(client: client, logger: TestDatabase.logger).run(reportLimit: 2)
            let text = MigrateRegistryCommand.render(report)
            let lines = text.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("registry migration run \(report.runID ?? -1) (") == true)
            #expect(lines.contains("meters: 2 inserted, 0 updated, 1 unchanged"))
            #expect(lines.contains("merged groups: 3, conflicts: 1, duplicates left: 0, shared ONU serials: 0"))
            #expect(lines.contains("  1. M001  inserted  [from cis]"))
            #expect(lines.contains("       cis            \"M001\""))
            #expect(lines.contains("       call_center    \"m-001\""))
            #expect(lines.contains("  2. M200  inserted  onu ONU-200  serial HWTC000000C8  [from onu_inventory]"))
            #expect(lines.contains("  ... and 1 more (--limit, or oms_registry_merges)"))
            #expect(lines.contains("  M500  onu_id: kept ONU-500; sources say ONU-500 (registry) / ONU-999 (onu_inventory)"))
        }
    }

    @Test("--limit must not be negative")
    func negativeLimit() {
        #expect(throws: (any Error).self) { try OMSCommand.parseAsRoot(["migrate-registry", "--limit", "-1"]) }
    }
}
