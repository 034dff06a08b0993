import ArgumentParser
import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI

/// `oms archive` and `oms restore-archive` from the command line (issue 17, item 9).
@Suite("oms archive, oms restore-archive")
struct ArchiveCommandTests: RunsOMSCommands {
    @Test("a date that is not one, or a format that is neither csv nor binary, is refused by name")
    func refusals() throws {
        #expect(throws: (any Error).self) { _ = try OMSCommand.parseAsRoot(["archive", "--before", "June", "--out", "/tmp/x"]) }
        #expect(throws: (any Error).self) {
            _ = try OMSCommand.parseAsRoot(["archive", "--before", "2026-06-01", "--out", "/tmp/x", "--format", "xml"])
        }
        #expect(ArchiveCommand.instant("2026-06-01") == ISO8601DateFormatter().date(from: "2026-06-01T00:00:00Z"))
        #expect(ArchiveCommand.instant("2026-06-31") == nil)
        do {
            _ = try OMSCommand.parseAsRoot(["archive", "--before", "June", "--out", "/tmp/x"])
        } catch {
            #expect(OMSCommand.message(for: error).contains("--before June: not a date or time"), "\(OMSCommand.message(for: error))")
        }
    }

    @Test("oms archive --before writes a past month to the folder and drops it; oms restore-archive brings it back")
    func roundTrip() async throws {
        try await withScratchFolder { folder in
            try await TestDatabase.with(.sampleNetwork) { database in
                let client = database.client
                try await client.execute("SELECT oms_partition_create('oms_meter_status_events', '2026-01-15T00:00:00Z')")
                try await client.execute("""
                    INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, new_status, created_at)
                    SELECT id, 'power_down', 'manual', 'off', '2026-01-20T00:00:00Z' FROM oms_meters LIMIT 25
                    """)
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                try await run(["archive", "--before", "2026-02-01", "--out", "\(folder)/archive", "--database-url", url])
                #expect(FileManager.default.fileExists(atPath: "\(folder)/archive/oms_meter_status_events_y2026m01.csv"))
                #expect(FileManager.default.fileExists(atPath: "\(folder)/archive/manifest.json"))
                let january: PostgresQuery = "SELECT count(*)::int FROM oms_meter_status_events WHERE created_at < '2026-02-01'"
                #expect(try await client.scalar(january, as: Int.self) == 0)
                try await run(["restore-archive", "\(folder)/archive", "--database-url", url])
                #expect(try await client.scalar(january, as: Int.self) == 25)
            }
        }
    }
}
