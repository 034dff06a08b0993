import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The engine's lock hierarchy (06_correlation.sql) and its deferred roll-ups
/// (oms_engine_rollup, oms_engine_sweep in 19_outage_engine.sql), with a second connection
/// standing for another writer.
///
/// A batch that waited for the other writer's lock would wait for ever: the time limits catch
/// that. They are minutes, not seconds, because they also cover the test's database, which at
/// the suite's start waits for the shared server and its templates: ~100 s on two cores busy with
/// the whole suite, and these tests then ended at 148 s in one run and passed 3 minutes in
/// another (5 s on their own).
@Suite("Engine locks: batches side by side, a roll-up another writer blocks is deferred and swept")
struct EngineLockTests: SmallNetworkTesting {
    let base = SmallNetwork.twoHoursAgo()

    /// Runs `body` while another connection holds a device's engine lock shared (`kind` feeder or
    /// substation, `code` its id), as a feed batch about a meter under it does until it commits.
    func whileAnotherWriterHolds(_ kind: String, _ code: String, on client: PostgresClient,
                                 _ body: () async throws -> Void) async throws {
        try await client.withConnection { other in
            try await other.query("BEGIN", logger: TestDatabase.logger)
            try await other.query("""
                SELECT pg_advisory_xact_lock_shared(oms_device_lock_key(\(kind), d.id))
                  FROM (SELECT id FROM network_feeders WHERE \(kind) = 'feeder' AND feeder_id = \(code)
                        UNION ALL
                        SELECT id FROM network_substations WHERE \(kind) = 'substation' AND substation_id = \(code)) d
                """, logger: TestDatabase.logger)
            do {
                try await body()
            } catch {
                _ = try? await other.query("ROLLBACK", logger: TestDatabase.logger)
                throw error
            }
            try await other.query("COMMIT", logger: TestDatabase.logger)
        }
    }

    func pending(_ client: PostgresClient) async throws -> String {
        try await client.scalar("""
            SELECT coalesce(string_agg(p.device_kind || ' ' || coalesce(f.feeder_id, s.substation_id), ', '), '')
              FROM oms_engine_pending p
              LEFT JOIN network_feeders f ON p.device_kind = 'feeder' AND f.id = p.device_id
              LEFT JOIN network_substations s ON p.device_kind = 'substation' AND s.id = p.device_id
            """, as: String.self)
    }

    @Test("a feeder's roll-up that another writer's lock stops is deferred, not waited for; the sweep does it after",
          .timeLimit(.minutes(5)))
    func deferredFeederRollup() async throws {
        try await withNetwork { client in
            try await whileAnotherWriterHolds("feeder", "F1", on: client) {
                // Two distribution points of F1 predicted: the roll-up rule fires, but F1 is held.
                for (offset, meter) in ["M-F1-D1-1", "M-F1-D1-2", "M-F1-D2-1", "M-F1-D2-2"].enumerated() {
                    try await gasp(meter, at: Double(offset), on: client)
                }
                let shown = try await visible(client)
                #expect(shown.map(\.device).sorted() == ["F1-D1", "F1-D2"])
                #expect(shown.allSatisfy { ["predicted", "confirmed"].contains($0.status) })
                #expect(try await pending(client) == "feeder F1")
            }
            // Nothing swept yet: the state stands until the sweep.
            #expect(try await visible(client).count == 2)
            #expect(try await EngineSweep(client: client, logger: TestDatabase.logger).run() == 1)
            let shown = try await visible(client)
            #expect(shown.map(\.device) == ["F1"])
            #expect(shown.first?.basis == "rollup")
            #expect(shown.first?.meters == 16)
            #expect(try await outages(client).filter { $0.status == "merged" }.count == 2)
            #expect(try await pending(client) == "")
            #expect(try await EngineSweep(client: client, logger: TestDatabase.logger).run() == 0)
        }
    }

    @Test("a substation's roll-up that another writer's lock stops is deferred, not waited for; the sweep does it after",
          .timeLimit(.minutes(5)))
    func deferredSubstationRollup() async throws {
        try await withNetwork { client in
            try await whileAnotherWriterHolds("substation", "S1", on: client) {
                // F1 and F2 roll up in their batches, so the substation's rule fires, but S1 is held.
                let meters = ["M-F1-D1-1", "M-F1-D1-2", "M-F1-D2-1", "M-F1-D2-2",
                              "M-F2-D1-1", "M-F2-D1-2", "M-F2-D2-1", "M-F2-D2-2"]
                for (offset, meter) in meters.enumerated() {
                    try await gasp(meter, at: Double(offset), on: client)
                }
                let shown = try await visible(client)
                #expect(shown.map(\.device) == ["F1", "F2"])
                #expect(shown.allSatisfy { ["predicted", "confirmed"].contains($0.status) && $0.basis == "rollup" })
                #expect(try await pending(client) == "substation S1")
            }
            // Nothing swept yet: the state stands until the sweep.
            #expect(try await visible(client).count == 2)
            #expect(try await EngineSweep(client: client, logger: TestDatabase.logger).run() == 1)
            let shown = try await visible(client)
            #expect(shown.map(\.device) == ["S1"])
            #expect(shown.first?.basis == "rollup")
            #expect(shown.first?.meters == 48)
            #expect(try await outages(client).filter { $0.status == "merged" }.map(\.device).sorted()
                    == ["F1", "F1-D1", "F1-D2", "F2", "F2-D1", "F2-D2"])
            #expect(try await pending(client) == "")
            #expect(try await EngineSweep(client: client, logger: TestDatabase.logger).run() == 0)
        }
    }

    @Test("without another writer the roll-up happens in the batch itself, and nothing is left to sweep")
    func immediateRollup() async throws {
        try await withNetwork { client in
            for (offset, meter) in ["M-F1-D1-1", "M-F1-D1-2", "M-F1-D2-1", "M-F1-D2-2"].enumerated() {
                try await gasp(meter, at: Double(offset), on: client)
            }
            #expect(try await visible(client).map(\.device) == ["F1"])
            #expect(try await pending(client) == "")
        }
    }

    @Test("a batch about another feeder does not wait for a writer holding one", .timeLimit(.minutes(5)))
    func otherFeederRunsAlongside() async throws {
        try await withNetwork { client in
            try await client.withConnection { other in
                try await other.query("BEGIN", logger: TestDatabase.logger)
                // Another writer holds F1 exclusive (a SCADA message about it, say) until it commits.
                try await other.query("""
                    SELECT oms_lock_device(f.substation_id, f.id) FROM network_feeders f WHERE f.feeder_id = 'F1'
                    """, logger: TestDatabase.logger)
                // A last gasp under F2 goes through meanwhile (were it to wait for F1's lock, the
                // test would run out of its time).
                try await gasp("M-F2-D1-1", at: 0, on: client)
                try await other.query("COMMIT", logger: TestDatabase.logger)
            }
            #expect(try await visible(client).map(\.device) == ["F2-D1"])
        }
    }
}
