import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// The feed intake (`25_feed_intake.sql`): messages acknowledged as one committed row, applied
/// behind the answer through the feed's own batch function.
@Suite("Feed intake: acknowledged, then applied once")
struct FeedIntakeTests {
    static func time(_ offsetSeconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offsetSeconds)))
    }

    /// The database's client, its intake, and the asset mRID of meter M10000311 (sample network).
    static func setUp(_ database: TestDatabase.Handle) async throws -> (PostgresClient, FeedIntake, String) {
        let client = database.client
        let asset = try await client.scalar("SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self)
        return (client, FeedIntake(client: client, logger: TestDatabase.logger), asset)
    }

    func lastGasp(_ id: String, asset: String, at time: String) -> String {
        #"{"mRID": "\#(id)", "createdDateTime": "\#(time)", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(asset)"}"#
    }

    func onuLastGasp(_ id: String, onu: String, at time: String) -> String {
        #"{"type": "ONU_LastGaspAlert", "eventId": "\#(id)", "onuId": "\#(onu)", "timestamp": "\#(time)"}"#
    }

    @Test("rows are applied in order through the feed's batch function, deleted, and a repeat is one event")
    func appliedOnce() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let (client, intake, asset) = try await Self.setUp(database)
            let gasp = lastGasp("FI-1", asset: asset, at: Self.time(-30))
            let first = try await intake.append(feed: "kaifa", messagesJSON: "[\(gasp)]")
            let second = try await intake.append(feed: "kaifa", messagesJSON: "[\(gasp)]")
            #expect(second.id > first.id)
            let waiting = try await intake.backlog()
            #expect(waiting.batches == 2 && waiting.events == 2)
            #expect(waiting.oldestSeconds.map { $0 >= 0 } == true)
            // Nothing happened yet: the meter is on, no event stored.
            #expect(try await client.scalar("SELECT power_status FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self) == "on")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'FI-1'", as: Int.self) == 0)

            let applied = try await intake.applyNext()
            #expect(applied.map(\.intakeID) == [first.id, second.id])
            #expect(applied.map(\.events) == [1, 1])
            #expect(applied.allSatisfy { $0.feed == "kaifa" && $0.refused == 0 && $0.waited >= .zero })
            #expect(try await intake.backlog() == FeedIntake.Backlog(batches: 0, events: 0, oldestSeconds: nil))
            #expect(try await intake.waiting(among: [first.id, second.id]).isEmpty)
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'FI-1'", as: Int.self) == 1)
            #expect(try await client.scalar("SELECT power_status FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self) == "off")
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'FI-1' AND outage_event_id IS NOT NULL", as: Int.self) == 1)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_meter_status_events e JOIN oms_meters m ON m.id = e.meter_id WHERE m.meter_number = 'M10000311'",
                as: Int.self) == 1)
            #expect(try await intake.applyNext().isEmpty)
        }
    }

    @Test("correlators work on different substations: a row whose substation another holds waits, with every later row about it; the others are applied")
    func partitionedBySubstation() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let (client, intake, _) = try await Self.setUp(database)
            // A meter of each of two substations.
            let rows = try await client.fetch(
                """
                SELECT DISTINCT ON (substation_id) asset_mrid, substation_id FROM oms_meters
                 WHERE asset_mrid IS NOT NULL AND substation_id IS NOT NULL AND status = 'active'
                 ORDER BY substation_id, meter_number LIMIT 2
                """, logger: TestDatabase.logger).decode((String, UUID).self)
            var meters: [(asset: String, substation: UUID)] = []
            for row in rows { meters.append(row) }
            try #require(meters.count == 2)
            let (held, free) = (meters[0], meters[1])
            let first = try await intake.append(feed: "kaifa", messagesJSON: "[\(lastGasp("PS-1", asset: held.asset, at: Self.time(-30)))]")
            let second = try await intake.append(feed: "kaifa", messagesJSON: "[\(lastGasp("PS-2", asset: free.asset, at: Self.time(-29)))]")
            // About both: it may not overtake the first row's substation.
            let third = try await intake.append(
                feed: "kaifa",
                messagesJSON: "[\(lastGasp("PS-3", asset: free.asset, at: Self.time(-28))), \(lastGasp("PS-4", asset: held.asset, at: Self.time(-27)))]")
            #expect(try await client.scalar(
                "SELECT oms_feed_intake_substations('kaifa', messages) = ARRAY[\(held.substation), \(free.substation)]::uuid[] OR oms_feed_intake_substations('kaifa', messages) = ARRAY[\(free.substation), \(held.substation)]::uuid[] FROM oms_feed_intake WHERE id = \(third.id)",
                as: Bool.self))

            // Another correlator holds the first meter's substation for the length of its transaction.
            try await client.withConnection { other in
                try await other.query("BEGIN", logger: TestDatabase.logger)
                let claimed = try await other.query(
                    "SELECT oms_feed_intake_claim_substations(ARRAY[\(held.substation)]::uuid[])", logger: TestDatabase.logger)
                for try await value in claimed.decode(Bool.self) { #expect(value) }
                let applied = try await intake.applyNext()
                #expect(applied.map(\.intakeID) == [second.id], "only the row about the free substation")
                try await other.query("COMMIT", logger: TestDatabase.logger)
            }
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id IN ('PS-1', 'PS-3', 'PS-4')", as: Int.self) == 0)
            let rest = try await intake.applyNext()
            #expect(rest.map(\.intakeID) == [first.id, third.id], "in order of arrival")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id LIKE 'PS-%'", as: Int.self) == 4)
            #expect(try await intake.backlog().batches == 0)
        }
    }

    @Test("a message the database refuses when applied is kept apart with its field; the others of its request land")
    func refusedKeptApart() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let (client, intake, asset) = try await Self.setUp(database)
            // Two days ahead of the database's clock: past feeds.max_future_minutes, refused by the SQL function.
            let row = try await intake.append(
                feed: "kaifa",
                messagesJSON: "[\(lastGasp("FI-2", asset: asset, at: Self.time(-10))), \(lastGasp("FI-3", asset: asset, at: Self.time(172_800)))]")
            let applied = try await intake.applyNext()
            #expect(applied.map(\.intakeID) == [row.id])
            #expect(applied.first?.refused == 1)
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id IN ('FI-2', 'FI-3')", as: Int.self) == 1)
            #expect(try await client.scalar("SELECT source_event_id FROM kaifa_events WHERE source_event_id IN ('FI-2', 'FI-3')", as: String.self) == "FI-2")
            let refused = try await client.scalar(
                "SELECT intake_id || '/' || feed || '/' || sqlstate || '/' || field || '/' || (message ->> 'mRID') FROM oms_feed_intake_refused",
                as: String.self)
            #expect(refused == "\(row.id)/kaifa/22023/createdDateTime/FI-3")
            #expect(try await intake.backlog().batches == 0)
        }
    }

    @Test("a message failing for good (not a conflict) is kept apart and never holds up the rows behind it; a conflict keeps the rows waiting")
    func poisonKeptApart() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let (client, intake, asset) = try await Self.setUp(database)
            // This database's ONU batch function fails every time (a lasting error, not class 22), in
            // its first step, which the intake calls itself when it correlates KAIFA and ONU together...
            try await client.execute(
                """
                CREATE OR REPLACE FUNCTION oms_onu_stage(p_events jsonb) RETURNS oms_feed_item[]
                LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'broken' USING ERRCODE = 'XX000'; END $$
                """)
            let onu = try await intake.append(
                feed: "onu", messagesJSON: #"[{"type": "ONU_LastGaspAlert", "eventId": "FI-6", "onuId": "ONU-000001", "timestamp": "\#(Self.time(-20))"}]"#)
            let kaifa = try await intake.append(feed: "kaifa", messagesJSON: "[\(lastGasp("FI-7", asset: asset, at: Self.time(-10)))]")
            let applied = try await intake.applyNext()
            #expect(applied.map(\.intakeID) == [onu.id, kaifa.id])
            #expect(applied.map(\.refused) == [1, 0])
            #expect(try await client.scalar("SELECT sqlstate || '/' || reason FROM oms_feed_intake_refused", as: String.self) == "XX000/broken")
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'FI-7'", as: Int.self) == 1)

            // ...while a conflict fails the whole application: nothing applied, nothing kept apart.
            try await client.execute(
                """
                CREATE OR REPLACE FUNCTION oms_onu_stage(p_events jsonb) RETURNS oms_feed_item[]
                LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$
                """)
            let again = try await intake.append(
                feed: "onu", messagesJSON: #"[{"type": "ONU_LastGaspAlert", "eventId": "FI-8", "onuId": "ONU-000001", "timestamp": "\#(Self.time(-5))"}]"#)
            let error = await #expect(throws: PSQLError.self) { try await intake.applyNext() }
            #expect(error?.serverInfo?[.sqlState] == "40001")
            #expect(try await intake.waiting(among: [again.id]) == [again.id])
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake_refused", as: Int.self) == 1)
        }
    }

    @Test("KAIFA and ONU rows applied together are correlated in one step: a distribution point's last gasp from each feed predicts and confirms it; one event id in both feeds is two events")
    func feedsTogether() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let (client, intake, asset) = try await Self.setUp(database)
            // Another meter of M10000311's distribution point, heard through its ONU.
            let onu = try await client.scalar(
                """
                SELECT m.onu_id FROM oms_meters m
                 WHERE m.dp_id = (SELECT dp_id FROM oms_meters WHERE meter_number = 'M10000311')
                   AND m.meter_number <> 'M10000311' AND m.onu_id IS NOT NULL
                 ORDER BY m.meter_number LIMIT 1
                """, as: String.self)
            let kaifa = try await intake.append(feed: "kaifa", messagesJSON: "[\(lastGasp("FT-1", asset: asset, at: Self.time(-20)))]")
            let onuRow = try await intake.append(
                feed: "onu", messagesJSON: #"[{"type": "ONU_LastGaspAlert", "eventId": "FT-1", "onuId": "\#(onu)", "timestamp": "\#(Self.time(-10))"}]"#)
            let applied = try await intake.applyNext()
            #expect(applied.map(\.intakeID) == [kaifa.id, onuRow.id])
            #expect(applied.allSatisfy { $0.refused == 0 })

            // One outage of the distribution point, predicted on the two reports and confirmed by two
            // feeds, holding both events.
            #expect(try await client.scalar(
                """
                SELECT count(*)::int FROM oms_outage_events o
                 WHERE o.dp_id = (SELECT dp_id FROM oms_meters WHERE meter_number = 'M10000311')
                """, as: Int.self) == 1)
            let outage = try await client.scalar(
                """
                SELECT o.id::text || '/' || o.status FROM oms_outage_events o
                 WHERE o.dp_id = (SELECT dp_id FROM oms_meters WHERE meter_number = 'M10000311')
                """, as: String.self).split(separator: "/").map(String.init)
            #expect(outage.last == "confirmed")
            let id = outage[0]
            #expect(try await client.scalar(
                """
                SELECT string_agg(source_type || ':' || source_event_id || ':' || source_table, ',' ORDER BY source_type)
                  FROM oms_event_sources WHERE outage_event_id = \(id)::uuid
                """, as: String.self) == "kaifa:FT-1:kaifa_events,onu:FT-1:onu_events")
            #expect(try await client.scalar(
                """
                SELECT count(*)::int FROM (SELECT outage_event_id FROM kaifa_events WHERE source_event_id = 'FT-1'
                                           UNION ALL
                                           SELECT outage_event_id FROM onu_events WHERE source_event_id = 'FT-1') e
                 WHERE e.outage_event_id = \(id)::uuid
                """, as: Int.self) == 2)
            // Each feed's result names the outage; the KAIFA gasp (the earlier) opened it.
            #expect(try await client.scalar(
                "SELECT (sync_result ->> 'outages_opened')::int FROM kaifa_events WHERE source_event_id = 'FT-1'", as: Int.self) == 1)
            #expect(try await client.scalar(
                "SELECT (sync_result ->> 'outages_opened')::int FROM onu_events WHERE source_event_id = 'FT-1'", as: Int.self) == 0)
            #expect(try await client.scalar(
                """
                SELECT string_agg(DISTINCT power_status, ',') FROM oms_meters
                 WHERE meter_number = 'M10000311' OR onu_id = \(onu)
                """, as: String.self) == "off")
        }
    }

    @Test("a row appended for an answer gets one result per message, taken once: KAIFA and ONU together, beside a row nobody waits for; a refusal is answered, not kept apart")
    func answersKept() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let (client, intake, asset) = try await Self.setUp(database)
            let durable = try await intake.append(feed: "kaifa", messagesJSON: "[\(lastGasp("FA-0", asset: asset, at: Self.time(-40)))]")
            let kaifa = try await intake.append(
                feed: "kaifa",
                messagesJSON: "[\(lastGasp("FA-1", asset: asset, at: Self.time(-30))), \(lastGasp("FA-0", asset: asset, at: Self.time(-40)))]",
                answer: true)
            let onu = try await intake.append(
                feed: "onu",
                messagesJSON: "[\(onuLastGasp("FA-2", onu: "ONU-000001", at: Self.time(-20))), \(onuLastGasp("FA-3", onu: "ONU-000003", at: Self.time(-10)))]",
                answer: true)
            #expect(try await intake.takeAnswer(kaifa.id) == .waiting)
            let applied = try await intake.applyNext()
            #expect(applied.map(\.intakeID) == [durable.id, kaifa.id, onu.id])

            // The row nobody waits for has no results kept.
            #expect(try await intake.takeAnswer(durable.id) == .gone)
            // Each waiting row: its messages' results in order, as the batch function answers them.
            guard case .results(let kaifaJSON) = try await intake.takeAnswer(kaifa.id),
                  case .results(let onuJSON) = try await intake.takeAnswer(onu.id)
            else {
                Issue.record("no results kept")
                return
            }
            let kaifaResults = try #require(try JSONSerialization.jsonObject(with: Data(kaifaJSON.utf8)) as? [[String: Any]])
            #expect(kaifaResults.count == 2)
            let fa1 = try await client.scalar("SELECT id::text FROM kaifa_events WHERE source_event_id = 'FA-1'", as: String.self)
            #expect((kaifaResults[0]["result"] as? [String: Any])?["kaifa_event_id"] as? String == fa1)
            #expect((kaifaResults[0]["result"] as? [String: Any])?["duplicate"] == nil)
            // FA-0 came first in the row nobody waits for: a repeat here.
            #expect((kaifaResults[1]["result"] as? [String: Any])?["duplicate"] as? Bool == true)
            let onuResults = try #require(try JSONSerialization.jsonObject(with: Data(onuJSON.utf8)) as? [[String: Any]])
            let onuIDs = try await client.fetch(
                "SELECT id::text FROM onu_events WHERE source_event_id IN ('FA-2', 'FA-3') ORDER BY source_event_id", logger: TestDatabase.logger
            ).decode(String.self)
            #expect(onuResults.compactMap { ($0["result"] as? [String: Any])?["onu_event_id"] as? String } == onuIDs)
            // Taken: gone now.
            #expect(try await intake.takeAnswer(kaifa.id) == .gone)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake_answers", as: Int.self) == 0)

            // A message refused when applied: its request hears why; nothing is kept apart for it.
            let refusing = try await intake.append(
                feed: "kaifa",
                messagesJSON: "[\(lastGasp("FA-4", asset: asset, at: Self.time(-5))), \(lastGasp("FA-5", asset: asset, at: Self.time(172_800)))]",
                answer: true)
            let second = try await intake.applyNext()
            #expect(second.map(\.refused) == [1])
            guard case .results(let refusedJSON) = try await intake.takeAnswer(refusing.id) else {
                Issue.record("no results kept for the row with a refused message")
                return
            }
            let refusedResults = try #require(try JSONSerialization.jsonObject(with: Data(refusedJSON.utf8)) as? [[String: Any]])
            #expect((refusedResults[0]["result"] as? [String: Any])?["kaifa_event_id"] as? String != nil)
            let refusal = refusedResults[1]["refused"] as? [String: Any]
            #expect(refusal?["sqlstate"] as? String == "22023")
            #expect(refusal?["field"] as? String == "createdDateTime")
            #expect((refusal?["reason"] as? String)?.contains("ahead of the service's clock") == true)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake_refused", as: Int.self) == 0)
            #expect(try await client.scalar("SELECT count(*)::int FROM kaifa_events WHERE source_event_id = 'FA-5'", as: Int.self) == 0)
        }
    }

    @Test("a large request is kept as pieces split by substation: two correlators apply it side by side, each with the sibling request's piece about the same substations, and its results come back in the request's order")
    func piecesSideBySide() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let (client, intake, _) = try await Self.setUp(database)
            // Two pieces: the sample's substations SS001, SS002 and SS003 go to pieces 0, 1 and 0 (their
            // rank by code), and a request of two messages is large enough to split.
            try await client.execute("UPDATE oms_settings SET value = '2' WHERE key = 'intake.pieces'")
            try await client.execute("UPDATE oms_settings SET value = '2' WHERE key = 'intake.piece_min_events'")
            // Two meters (with their ONUs) of SS001 (X) and of SS002 (Y).
            let rows = try await client.fetch(
                """
                (SELECT m.asset_mrid, m.onu_id, true FROM oms_meters m JOIN network_substations s ON s.id = m.substation_id
                  WHERE s.substation_id = 'SS001' AND m.asset_mrid IS NOT NULL AND m.onu_id IS NOT NULL
                  ORDER BY m.meter_number LIMIT 2)
                UNION ALL
                (SELECT m.asset_mrid, m.onu_id, false FROM oms_meters m JOIN network_substations s ON s.id = m.substation_id
                  WHERE s.substation_id = 'SS002' AND m.asset_mrid IS NOT NULL AND m.onu_id IS NOT NULL
                  ORDER BY m.meter_number LIMIT 2)
                """, logger: TestDatabase.logger).decode((String, String, Bool).self)
            let meters = rows.map { (asset: $0.0, onu: $0.1, inX: $0.2) }
            try #require(meters.count == 4)
            let x = meters.filter(\.inX), y = meters.filter { !$0.inX }
            // KAIFA, waiting for its answer: X, Y, X. ONU, nobody waiting: X, Y.
            let kaifa = try await intake.append(
                feed: "kaifa",
                messagesJSON: "[\(lastGasp("FP-1", asset: x[0].asset, at: Self.time(-30))), \(lastGasp("FP-2", asset: y[0].asset, at: Self.time(-29))), \(lastGasp("FP-3", asset: x[1].asset, at: Self.time(-28)))]",
                answer: true)
            let onu = try await intake.append(
                feed: "onu",
                messagesJSON: "[\(onuLastGasp("FP-4", onu: x[1].onu, at: Self.time(-27))), \(onuLastGasp("FP-5", onu: y[1].onu, at: Self.time(-26)))]")
            #expect(try await client.scalar(
                """
                SELECT string_agg(feed || ':' || array_to_string(positions, '+') || ':' || cardinality(substations), ' ' ORDER BY id)
                  FROM oms_feed_intake WHERE request_id IN (\(kaifa.id), \(onu.id))
                """, as: String.self) == "kaifa:1+3:1 kaifa:2:1 onu:1:1 onu:2:1")
            #expect(try await intake.backlog().batches == 4)

            // One correlator holds its call open: one piece of each request, those about X.
            try await client.withConnection { held in
                try await held.query("BEGIN", logger: TestDatabase.logger)
                let taken = try await held.query(
                    "SELECT intake_id, request_id FROM oms_feed_intake_apply()", logger: TestDatabase.logger)
                var first: [(Int64, Int64)] = []
                for try await row in taken.decode((Int64, Int64).self) { first.append(row) }
                #expect(first.map(\.1) == [kaifa.id, onu.id])
                #expect(first.map(\.0).first == kaifa.id, "the piece with the request's first message has the request's id")
                // The other correlator, meanwhile: the pieces about Y.
                let second = try await intake.applyNext()
                #expect(second.map(\.requestID) == [kaifa.id, onu.id])
                #expect(second.map(\.events) == [1, 1])
                #expect(Set(second.map(\.intakeID)).isDisjoint(with: first.map(\.0)))
                // The request is not answered while a piece of it waits.
                #expect(try await intake.takeAnswer(kaifa.id) == .waiting)
                #expect(try await intake.waiting(among: [kaifa.id, onu.id]) == [kaifa.id, onu.id])
                try await held.query("COMMIT", logger: TestDatabase.logger)
            }
            #expect(try await intake.waiting(among: [kaifa.id, onu.id]).isEmpty)
            #expect(try await intake.backlog().batches == 0)
            // Its results, one per message in the request's order.
            guard case .results(let json) = try await intake.takeAnswer(kaifa.id) else {
                Issue.record("no results for the request kept as pieces")
                return
            }
            let results = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
            let stored = try await client.fetch(
                "SELECT id::text FROM kaifa_events WHERE source_event_id IN ('FP-1', 'FP-2', 'FP-3') ORDER BY source_event_id",
                logger: TestDatabase.logger
            ).decode(String.self)
            #expect(results.compactMap { ($0["result"] as? [String: Any])?["kaifa_event_id"] as? String } == stored)
            #expect(stored.count == 3)
            #expect(try await intake.takeAnswer(kaifa.id) == .gone)
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake_answers", as: Int.self) == 0)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM onu_events WHERE source_event_id IN ('FP-4', 'FP-5')", as: Int.self) == 2)

            // A message refused when its piece is applied is kept apart under its request's id (the one
            // the append answered), not its piece's.
            let refusing = try await intake.append(
                feed: "kaifa",
                messagesJSON: "[\(lastGasp("FP-8", asset: x[0].asset, at: Self.time(-3))), \(lastGasp("FP-9", asset: y[0].asset, at: Self.time(172_800)))]")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_feed_intake WHERE request_id = \(refusing.id)", as: Int.self) == 2)
            while try await !intake.applyNext().isEmpty {}
            #expect(try await client.scalar(
                "SELECT intake_id || '/' || (message ->> 'mRID') FROM oms_feed_intake_refused", as: String.self) == "\(refusing.id)/FP-9")

            // One piece: a request smaller than intake.piece_min_events is kept whole.
            try await client.execute("UPDATE oms_settings SET value = '3' WHERE key = 'intake.piece_min_events'")
            let whole = try await intake.append(
                feed: "kaifa", messagesJSON: "[\(lastGasp("FP-6", asset: x[0].asset, at: Self.time(-5))), \(lastGasp("FP-7", asset: y[0].asset, at: Self.time(-4)))]")
            #expect(try await client.scalar(
                "SELECT (request_id IS NULL AND positions IS NULL AND cardinality(substations) = 2)::text FROM oms_feed_intake WHERE id = \(whole.id)",
                as: String.self) == "true")
        }
    }

    @Test("two correlators never take the same row: a row held by one is skipped by the other")
    func rowsShared() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let (client, intake, asset) = try await Self.setUp(database)
            // (A meter of another substation for the second row: the held batch keeps its meter's
            // engine locks, which a batch about the same distribution point would wait for.)
            let elsewhere = try await client.scalar(
                """
                SELECT m.asset_mrid FROM oms_meters m
                 WHERE m.asset_mrid IS NOT NULL
                   AND m.substation_id <> (SELECT substation_id FROM oms_meters WHERE meter_number = 'M10000311')
                 ORDER BY m.meter_number LIMIT 1
                """, as: String.self)
            let first = try await intake.append(feed: "kaifa", messagesJSON: "[\(lastGasp("FI-4", asset: asset, at: Self.time(-20)))]")
            let second = try await intake.append(feed: "kaifa", messagesJSON: "[\(lastGasp("FI-5", asset: elsewhere, at: Self.time(-10)))]")
            try await client.withConnection { held in
                try await held.query("BEGIN", logger: TestDatabase.logger)
                let taken = try await held.query("SELECT intake_id FROM oms_feed_intake_apply(1)", logger: TestDatabase.logger)
                var heldIDs: [Int64] = []
                for try await id in taken.decode(Int64.self) { heldIDs.append(id) }
                #expect(heldIDs == [first.id])
                // The other correlator, meanwhile: the next row, not the one held.
                #expect(try await intake.applyNext().map(\.intakeID) == [second.id])
                #expect(try await intake.applyNext().isEmpty)
                try await held.query("ROLLBACK", logger: TestDatabase.logger)
            }
            // Rolled back: the first row waits again, and is applied once.
            #expect(try await intake.waiting(among: [first.id, second.id]) == [first.id])
            #expect(try await intake.applyNext().map(\.intakeID) == [first.id])
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM kaifa_events WHERE source_event_id IN ('FI-4', 'FI-5')", as: Int.self) == 2)
        }
    }

    @Test("an append names what is wrong and writes nothing", arguments: [
        ("nope", "[{}]", "feed"), ("kaifa", "[]", "messages"), ("kaifa", "{}", "messages"),
    ])
    func appendRefused(feed: String, messages: String, field: String) async throws {
        try await TestDatabase.with(.migrated) { database in
            let intake = FeedIntake(client: database.client, logger: TestDatabase.logger)
            let error = await #expect(throws: PSQLError.self) {
                try await intake.append(feed: feed, messagesJSON: messages)
            }
            #expect(error?.serverInfo?[.sqlState] == "22023")
            #expect(error?.serverInfo?[.columnName] == field)
            let waiting = try await intake.backlog()
            #expect(waiting.batches == 0)
        }
    }
}
