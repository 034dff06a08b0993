import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Synchronization
import Testing

/// The outage engine's rules (19_outage_engine.sql, 20_device_telemetry.sql), each on a small
/// network of its own (`SmallNetworkTesting`), through the feed functions a psql user calls.
@Suite("Outage engine: telemetry wins, prediction, roll-up, merging, restoration, momentary")
struct OutageEngineTests: SmallNetworkTesting {
    let base = SmallNetwork.twoHoursAgo()

    // MARK: - Rules

    @Test("device state from telemetry: words in any case, the newest by event time in force, a late one recorded but not applied")
    func deviceStates() async throws {
        try await withNetwork { client in
            try await scada("BreakerTrip", alarm: "Trip", feeder: "F1", at: 0, id: "S-1", on: client)
            #expect(try await deviceState("F1", client) == "open")
            try await scada("Breaker Reclose", alarm: nil, feeder: "F1", at: 1, id: "S-2", on: client)
            #expect(try await deviceState("F1", client) == "closed")
            try await scada("Alarm", alarm: "LOCKOUT", feeder: "F1", at: 40, id: "S-3", on: client)
            #expect(try await deviceState("F1", client) == "locked_out")
            // A reclose from before the lockout, delivered late: recorded, not applied.
            try await scada("breaker_reclose", alarm: nil, feeder: "F1", at: 20, id: "S-4", on: client)
            #expect(try await deviceState("F1", client) == "locked_out")
            #expect(try await client.scalar(
                "SELECT string_agg(state || ':' || applied, ',' ORDER BY recorded_at, id) FROM oms_device_state_history",
                as: String.self) == "open:true,closed:true,locked_out:true,closed:false")
            // A substation without a feeder: its supply.
            try await scada("MV_AlarmLossOfVoltage", alarm: "De-energized", feeder: nil, at: 50, id: "S-5", on: client)
            #expect(try await client.scalar(
                "SELECT state FROM oms_device_states WHERE device_kind = 'substation'", as: String.self) == "de_energized")
            // Words it does not know change no state.
            try await scada("Maintenance", alarm: "Info", feeder: "F2", at: 60, id: "S-6", on: client)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_device_states WHERE device_kind = 'feeder'", as: Int.self) == 1)
        }
    }

    @Test("telemetry wins: a lockout is at once a confirmed outage of every meter under the feeder, no last gasp needed; the seed's check counts stay")
    func telemetryWins() async throws {
        try await withNetwork { client in
            let summary = try await scada("Lockout", alarm: "Lockout", feeder: "F1", at: 0, id: "S-1", on: client)
            // The seed's check: every F1 meter is on but never heard from, so 16 unknown, none offline.
            #expect(summary.contains(#""total_meters": 16"#))
            #expect(summary.contains(#""offline_meters": 0"#))
            #expect(summary.contains(#""unknown_meters": 16"#))
            var all = try await visible(client)
            #expect(all.count == 1)
            #expect(all.first?.status == "confirmed")
            #expect(all.first?.basis == "telemetry")
            #expect(all.first?.device == "F1")
            #expect(all.first?.meters == 16)
            #expect(all.first?.customers == 16)
            #expect(all.first?.metersOut == 16)
            // Last gasps under it join it: no new outage.
            try await gasp("M-F1-D1-1", at: 2, on: client)
            try await gasp("M-F1-D3-2", at: 3, on: client)
            all = try await visible(client)
            #expect(all.count == 1)
            #expect(try await client.scalar(
                "SELECT count(DISTINCT outage_event_id)::int FROM kaifa_events", as: Int.self) == 1)
        }
    }

    @Test("a feeder's outage confirmed by telemetry takes in the outages open below it: feed rows, evidence and meters move; both timelines say so")
    func telemetryMergesBelow() async throws {
        try await withNetwork { client in
            try await gasp("M-F1-D1-1", at: 0, on: client)
            try await gasp("M-F1-D1-2", at: 1, on: client)
            try await gasp("M-F1-D2-1", at: 1.5, on: client)
            let before = try await visible(client)
            #expect(before.map(\.device) == ["F1-D1", "F1-D2"])
            // Two AMI reports: predicted, and confirmed by their combined confidence (1 - 0.2 * 0.2 >= 0.95).
            #expect(before.map(\.status) == ["confirmed", "detected"])
            try await scada("BreakerTrip", alarm: "Trip", feeder: "F1", at: 5, id: "S-1", on: client)
            let after = try await outages(client)
            let survivor = try #require(after.first { $0.status != "merged" })
            #expect(after.filter { $0.status != "merged" }.count == 1)
            #expect(survivor.device == "F1")
            #expect(survivor.meters == 16)
            #expect(survivor.startOffset == 0)
            #expect(after.filter { $0.status == "merged" }.allSatisfy { $0.mergedInto == survivor.code })
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM kaifa_events k JOIN oms_outage_events o ON o.id = k.outage_event_id WHERE o.event_id = \(survivor.code)",
                as: Int.self) == 3)
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_event_sources s JOIN oms_outage_events o ON o.id = s.outage_event_id WHERE o.status = 'merged'",
                as: Int.self) == 0)
            let lines = try await timeline(survivor.code, client)
            #expect(lines.contains { $0.hasPrefix("outages_merged: Took in") && $0.contains("(telemetry)") })
            let merged = try #require(after.first { $0.status == "merged" })
            #expect(try await timeline(merged.code, client).last?.hasPrefix("merged: Merged into \(survivor.code)") == true)
        }
    }

    @Test("the cause telemetry names is the outage's, whichever came first: a roll-up confirmed by a later trip reads as a trip before the last gasps does")
    func telemetryNamesTheCause() async throws {
        let causes = Mutex<[Bool: String]>([:])
        for tripFirst in [false, true] {
            try await withNetwork { client in
                if tripFirst { _ = try await scada("BreakerTrip", alarm: "Trip", feeder: "F2", at: 0, id: "S-1", on: client) }
                for (index, meter) in ["M-F2-D1-1", "M-F2-D1-2", "M-F2-D2-1", "M-F2-D2-3"].enumerated() {
                    try await gasp(meter, at: Double(index + 1), on: client)
                }
                if !tripFirst {
                    #expect(try await visible(client).map(\.basis) == ["rollup"], "predicted before the trip")
                    _ = try await scada("BreakerTrip", alarm: "Trip", feeder: "F2", at: 0, id: "S-1", on: client)
                }
                let shown = try await visible(client)
                #expect(shown.map(\.device) == ["F2"] && shown.map(\.basis) == ["telemetry"])
                let cause = try await client.scalar(
                    "SELECT root_cause FROM oms_outage_events WHERE status <> 'merged'", as: String.self)
                causes.withLock { $0[tripFirst] = cause }
            }
        }
        let both = causes.withLock { $0 }
        #expect(both[false] == both[true], "\(both)")
        #expect(both[true] == "Trip on feeder F2 at substation S1", "\(both)")
    }

    @Test("prediction: one report is detected; a second in the same distribution point predicts it, covering all its meters, and says why")
    func prediction() async throws {
        try await withNetwork { client in
            try await gasp("M-F2-D1-1", at: 0, on: client)
            var dp = try #require(try await visible(client).first)
            #expect(dp.status == "detected")
            #expect(dp.meters == 1)
            try await gasp("M-F2-D1-2", at: 4, on: client)
            dp = try #require(try await visible(client).first)
            #expect(dp.basis == "prediction")
            #expect(dp.status == "confirmed")  // two AMI reports: confidence 0.96 >= correlation.confirm_confidence
            #expect(dp.meters == 4)
            #expect(dp.customers == 4)
            let lines = try await timeline(dp.code, client)
            #expect(lines.contains {
                $0.contains("2 of 4 meters able to report on distribution point F2-D1 reported a loss; predict.dp_min_reports = 2")
            })
        }
    }

    @Test("an outage covering its device has no row per meter; its size follows the registry: a meter added under the device counts at the next evidence")
    func coverageFollowsTheRegistry() async throws {
        try await withNetwork { client in
            try await gasp("M-F2-D1-1", at: 0, on: client)
            try await gasp("M-F2-D1-2", at: 4, on: client)
            // The two that reported are rows; the other two are covered by the device.
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_outage_meters", as: Int.self) == 2)
            #expect(try await client.scalar("""
                SELECT count(*)::int FROM oms_outage_events o, oms_outage_covered_meters(o.id) c WHERE o.covers_device
                """, as: Int.self) == 4)
            try await client.execute("""
                INSERT INTO oms_meters (meter_number, dp_id, asset_mrid, power_status, communication_status)
                SELECT 'M-F2-D1-5', d.id, 'A-F2-D1-5', 'on', 'online' FROM network_distribution_points d WHERE d.dp_id = 'F2-D1'
                """)
            try await gasp("M-F2-D1-3", at: 8, on: client)
            let dp = try #require(try await visible(client).first)
            #expect(dp.meters == 5)
            #expect(dp.metersOut == 5)
            // A power-up is a row of its own: one meter back.
            try await powerUp("M-F2-D1-5", at: 60, on: client)
            #expect(try #require(try await visible(client).first).metersOut == 4)
        }
    }

    @Test("device sizes counted ahead (oms_device_sizes_warm, as oms import does) are the engine's own count of every distribution point, feeder and substation; a second call counts none")
    func deviceSizesCountedAhead() async throws {
        try await withNetwork { client in
            let sizes: PostgresQuery = """
                SELECT string_agg(concat_ws(':', device_kind, device_id, registry_version, meters, customers,
                                            capable_meters, capable_customers, children), ',' ORDER BY device_kind, device_id)
                  FROM oms_device_sizes
                """
            try await client.execute("DELETE FROM oms_device_sizes")
            let counted = try await client.scalar("SELECT oms_device_sizes_warm()", as: Int.self)
            let devices = try await client.scalar("""
                SELECT (SELECT count(*) FROM network_distribution_points d WHERE EXISTS
                            (SELECT 1 FROM oms_meters m WHERE m.dp_id = d.id AND m.status = 'active'))
                       + (SELECT count(*) FROM network_feeders) + (SELECT count(*) FROM network_substations)
                """, as: Int.self)
            #expect(counted == devices)
            #expect(try await client.scalar("SELECT oms_device_sizes_warm()", as: Int.self) == 0)
            let warmed = try await client.scalar(sizes, as: String.self)
            // The engine's own count, device by device.
            try await client.execute("DELETE FROM oms_device_sizes")
            try await client.execute("""
                SELECT oms_device_size(d.substation_id, d.feeder_id, d.dp_id)
                  FROM (SELECT f.substation_id, d.feeder_id, d.id AS dp_id FROM network_distribution_points d
                          JOIN network_feeders f ON f.id = d.feeder_id
                         WHERE EXISTS (SELECT 1 FROM oms_meters m WHERE m.dp_id = d.id AND m.status = 'active')
                        UNION ALL SELECT f.substation_id, f.id, NULL FROM network_feeders f
                        UNION ALL SELECT s.id, NULL, NULL FROM network_substations s) d
                """)
            #expect(try await client.scalar(sizes, as: String.self) == warmed)
            #expect(try await client.scalar(
                "SELECT sum(meters)::int FROM oms_device_sizes WHERE device_kind = 'dp'", as: Int.self) ==
                    client.scalar("SELECT count(*)::int FROM oms_meters WHERE status = 'active' AND dp_id IS NOT NULL", as: Int.self))
        }
    }

    @Test("roll-up: half the distribution points of a feeder out -> the feeder is predicted and takes them in; a feeder telemetry shows closed never is")
    func rollUp() async throws {
        try await withNetwork { client in
            // F3 is shown closed (a close message), F2 has no telemetry.
            try await scada("BreakerClose", alarm: "Close", feeder: "F3", at: -600, id: "S-0", on: client)
            for (index, meter) in ["M-F2-D1-1", "M-F2-D1-2", "M-F2-D2-1", "M-F2-D2-3",
                                   "M-F3-D1-1", "M-F3-D1-2", "M-F3-D2-1", "M-F3-D2-3"].enumerated() {
                try await gasp(meter, at: Double(index), on: client)
            }
            let shown = try await visible(client)
            #expect(shown.map(\.device).sorted() == ["F2", "F3-D1", "F3-D2"])
            let f2 = try #require(shown.first { $0.device == "F2" })
            #expect(f2.basis == "rollup")
            #expect(f2.meters == 16)
            #expect(f2.startOffset == 0)
            #expect(try await timeline(f2.code, client).contains {
                $0.contains("2 of 4 distribution points of feeder F2 out") && $0.contains("rollup.min_children = 2")
            })
        }
    }

    @Test("the roll-up reads each device's own children: a feeder or substation with none reads no outage of a storm elsewhere; one under the storm counts every child")
    func rollUpReadsItsOwnChildren() async throws {
        try await TestDatabase.with(.migrated) { database in
            let client = database.client
            // S1-F1, quiet; S2's 20 feeders with 10 distribution points each, each with 10
            // outages open five minutes ago (the storm).
            try await client.execute(statements: [
                "INSERT INTO network_substations (substation_id) VALUES ('S1'), ('S2')",
                """
                INSERT INTO network_feeders (feeder_id, substation_id)
                SELECT 'S1-F1', id FROM network_substations WHERE substation_id = 'S1'
                UNION ALL
                SELECT 'S2-F' || f, id FROM network_substations, generate_series(1, 20) f WHERE substation_id = 'S2'
                """,
                """
                INSERT INTO network_distribution_points (dp_id, feeder_id)
                SELECT feeder_id || '-D' || d, id FROM network_feeders, generate_series(1, 10) d WHERE feeder_id LIKE 'S2-%'
                """,
                """
                INSERT INTO oms_outage_events (event_id, status, substation_id, feeder_id, dp_id, first_detected_at)
                SELECT 'STORM-' || d.dp_id || '-' || k, 'predicted', f.substation_id, f.id, d.id,
                       now() - interval '5 minutes'
                  FROM network_distribution_points d JOIN network_feeders f ON f.id = d.feeder_id, generate_series(1, 10) k
                """,
                "ANALYZE",
            ])
            // As the engine's functions call it: one generic plan kept per session
            // (plan_cache_mode), no sequential scan. Rows counted by the server, in the transaction.
            let counted = try await database.psql(
                """
                SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off;
                CREATE TEMP TABLE quiet AS
                SELECT d.kind, r.* FROM (SELECT 'feeder' AS kind, id FROM network_feeders WHERE feeder_id = 'S1-F1'
                                         UNION ALL SELECT 'substation', id FROM network_substations WHERE substation_id = 'S1') d
                 CROSS JOIN LATERAL oms_rollup_children(d.kind, d.id, now() - interval '1 hour') r;
                SELECT coalesce(sum(seq_tup_read + idx_tup_fetch), 0) AS rows_read,
                       (SELECT string_agg(kind || ' ' || out_children, ', ' ORDER BY kind) FROM quiet) AS answers
                  FROM pg_stat_xact_user_tables WHERE relname = 'oms_outage_events'
                """)
            #expect(counted.column("answers") == ["feeder 0, substation 0"])
            #expect(counted.int("rows_read") == 0, "outage rows read for a quiet feeder and substation")

            // Under the storm, every child counts: a feeder's 10 distribution points (100 outages);
            // the substation's 2,000 outages below it (no feeder of its own is out).
            let storm = try await database.psql(
                """
                SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off;
                SELECT string_agg(d.kind || ' ' || r.out_children || ' ' || cardinality(r.out_ids), ', ' ORDER BY d.kind)
                       AS answers
                  FROM (SELECT 'feeder' AS kind, id FROM network_feeders WHERE feeder_id = 'S2-F7'
                        UNION ALL SELECT 'substation', id FROM network_substations WHERE substation_id = 'S2') d
                 CROSS JOIN LATERAL oms_rollup_children(d.kind, d.id, now() - interval '1 hour') r
                """)
            #expect(storm.column("answers") == ["feeder 10 100, substation 0 2000"])
        }
    }

    @Test("one batch whose evidence predicts two distribution points of a feeder rolls the feeder up at once: no distribution point's outage is opened to be merged; the feeder holds the feed rows, sources and meters; over two feeders, the substation takes the first feeder's outage in")
    func rollUpInOneBatch() async throws {
        try await withNetwork { client in
            try await gasps(["M-F1-D1-1", "M-F1-D1-2", "M-F1-D2-1", "M-F1-D2-3"], at: 0, on: client)
            let shown = try await visible(client)
            #expect(shown.map(\.device) == ["F1"])
            #expect(try await outages(client).map(\.device) == ["F1"], "no outage of F1-D1 or F1-D2, opened and merged")
            let f1 = try #require(shown.first)
            #expect(["predicted", "confirmed"].contains(f1.status) && f1.basis == "rollup")
            #expect(f1.meters == 16)
            #expect(f1.startOffset == 0)
            #expect(try await timeline(f1.code, client).contains {
                $0.contains("2 of 4 distribution points of feeder F1 out") && $0.contains("rollup.min_children = 2")
                    && $0.contains("counting the evidence arriving now (2 distribution points predicted on it: predict.dp_min_reports = 2")
            })
            // Its evidence is its own: the feed rows, the sources and the meters that reported.
            let evidence = try await client.scalar("""
                SELECT (SELECT count(*) FROM kaifa_events k WHERE k.outage_event_id = o.id)::text || ' '
                       || (SELECT count(*) FROM oms_event_sources s WHERE s.outage_event_id = o.id)::text || ' '
                       || (SELECT count(*) FROM oms_outage_meters m WHERE m.outage_event_id = o.id AND m.reported)::text
                  FROM oms_outage_events o WHERE o.event_id = \(f1.code)
                """, as: String.self)
            #expect(evidence == "4 4 4")

            // Another feeder's worth in one batch: F2 rolls up, then S1 over F1 and F2.
            try await gasps(["M-F2-D1-1", "M-F2-D1-2", "M-F2-D2-1", "M-F2-D2-3"], at: 10, on: client)
            let all = try await visible(client)
            #expect(all.map(\.device) == ["S1"])
            #expect(all.first?.meters == 48)
            #expect(try await outages(client).filter { $0.status == "merged" }.map(\.device) == ["F1"])
            #expect(try await client.scalar(
                "SELECT count(DISTINCT outage_event_id)::int FROM kaifa_events", as: Int.self) == 1)
        }
    }

    @Test("a feeder's last gasps from both meter feeds, applied together by the feed intake, open the feeder's outage at once; one feed after the other, its distribution points' outages are opened and merged into it")
    func rollUpAcrossFeeds() async throws {
        // One KAIFA and one ONU gasp on each of F1-D1 and F1-D2: two reports per distribution point
        // (predict.dp_min_reports = 2), two of F1's four predicted (rollup.min_children = 2, half).
        @Sendable func messages() -> (kaifa: String, onu: String) {
            let kaifa = ["M-F1-D1-1", "M-F1-D2-1"].enumerated().map { offset, meter in
                #"{"mRID": "both-k-\#(meter)", "createdDateTime": "\#(at(Double(offset)))", "eventTypeRef": "3.26.0.47", "assetMRID": "A-\#(meter.dropFirst(2))"}"#
            }
            let onu = ["M-F1-D1-2", "M-F1-D2-2"].enumerated().map { offset, meter in
                #"{"type": "ONU_LastGaspAlert", "eventId": "both-o-\#(meter)", "onuId": "ONU-\#(meter.dropFirst(2))", "timestamp": "\#(at(Double(offset) + 0.5))"}"#
            }
            return ("[" + kaifa.joined(separator: ", ") + "]", "[" + onu.joined(separator: ", ") + "]")
        }
        @Sendable func giveONUs(_ client: PostgresClient) async throws {
            try await client.execute("UPDATE oms_meters SET onu_id = 'ONU-' || substr(meter_number, 3) WHERE meter_number LIKE 'M-F1-%'")
        }

        // Through the intake: one application, one call for both feeds.
        try await withNetwork { client in
            try await giveONUs(client)
            let intake = FeedIntake(client: client, logger: TestDatabase.logger)
            let (kaifa, onu) = messages()
            _ = try await intake.append(feed: "kaifa", messagesJSON: kaifa)
            _ = try await intake.append(feed: "onu", messagesJSON: onu)
            #expect(try await intake.applyNext().count == 2)
            let all = try await outages(client)
            #expect(all.map(\.device) == ["F1"], "the feeder's outage only, none opened to be merged")
            let f1 = try #require(all.first)
            #expect(f1.status == "confirmed" && f1.basis == "rollup" && f1.meters == 16)
            #expect(try await timeline(f1.code, client).contains {
                $0.contains("2 of 4 distribution points of feeder F1 out") && $0.contains("counting the evidence arriving now")
            })
            #expect(try await client.scalar(
                "SELECT string_agg(source_type, ',' ORDER BY source_type, source_event_id) FROM oms_event_sources",
                as: String.self) == "kaifa,kaifa,onu,onu")
        }
        // The same messages as two synchronous batches, one feed after the other: the same feeder
        // outage in the end, through outages opened for its distribution points and merged.
        try await withNetwork { client in
            try await giveONUs(client)
            let (kaifa, onu) = messages()
            try await client.execute("SELECT insert_kaifa_events_with_meter_sync(\(kaifa)::jsonb)")
            try await client.execute("SELECT insert_onu_events_with_meter_sync(\(onu)::jsonb)")
            let all = try await outages(client)
            #expect(all.filter { $0.status != "merged" }.map(\.device) == ["F1"])
            #expect(all.filter { $0.status == "merged" }.map(\.device).sorted() == ["F1-D1", "F1-D2"])
        }
    }

    @Test("restoration: power-ups restore meters one by one; a distribution point is restored when half its meters are back, at the first power-up")
    func restorationByMeters() async throws {
        try await withNetwork { client in
            for meter in 1...4 { try await gasp("M-F1-D4-\(meter)", at: Double(meter), on: client) }
            try await powerUp("M-F1-D4-1", at: 1800, on: client)
            var dp = try #require(try await visible(client).first)
            #expect(dp.basis == "prediction")
            #expect(dp.status == "confirmed")
            #expect(dp.metersOut == 3)
            try await powerUp("M-F1-D4-3", at: 1830, on: client)
            dp = try #require(try await visible(client).first)
            #expect(dp.status == "restored")
            #expect(dp.restoredOffset == 1800)
            #expect(dp.metersOut == 0)
            #expect(dp.meters == 4)
            #expect(!dp.momentary)
            // Each meter's own time: the two that reported theirs, the others the outage's.
            #expect(try await client.scalar("""
                SELECT string_agg(extract(epoch FROM om.restored_at - \(base))::int::text, ',' ORDER BY m.meter_number)
                  FROM oms_outage_meters om JOIN oms_meters m ON m.id = om.meter_id
                """, as: String.self) == "1800,1800,1830,1800")
        }
    }

    @Test("a feeder outage whose close never comes is restored when 80% of its meters are back, not at half")
    func telemetryWithoutClose() async throws {
        try await withNetwork { client in
            try await scada("Lockout", alarm: "Lockout", feeder: "F2", at: 0, id: "S-1", on: client)
            let meters = (1...4).flatMap { dp in (1...4).map { "M-F2-D\(dp)-\($0)" } }
            for (index, meter) in meters.prefix(12).enumerated() { try await powerUp(meter, at: 3600 + Double(index), on: client) }
            #expect(try await visible(client).first?.status == "confirmed")  // 12 of 16: held by telemetry
            try await powerUp(meters[12], at: 3700, on: client)  // 13 of 16 >= 0.8
            let feeder = try #require(try await visible(client).first)
            #expect(feeder.status == "restored")
            #expect(feeder.restoredOffset == 3600)
            #expect(try await timeline(feeder.code, client).contains {
                $0.hasPrefix("restored:") && $0.contains("restoration.telemetry_meter_share")
            })
        }
    }

    @Test("a distribution point's losses and power-ups in one batch (as the feed intake applies a momentary outage that arrived together): the outage they open is restored, momentary")
    func lossAndPowerUpInOneBatch() async throws {
        try await withNetwork { client in
            let meters = (1...4).map { "M-F2-D1-\($0)" }
            let downs = meters.enumerated().map { offset, meter in
                #"{"mRID": "down-\#(meter)", "createdDateTime": "\#(at(Double(offset)))", "eventTypeRef": "3.26.0.47", "assetMRID": "A-\#(meter.dropFirst(2))"}"#
            }
            let ups = meters.enumerated().map { offset, meter in
                #"{"mRID": "up-\#(meter)", "createdDateTime": "\#(at(90 + Double(offset)))", "eventTypeRef": "3.26.0.216", "assetMRID": "A-\#(meter.dropFirst(2))"}"#
            }
            let batch = "[" + (downs + ups).joined(separator: ", ") + "]"
            try await client.execute("SELECT insert_kaifa_events_with_meter_sync(\(batch)::jsonb)")
            let all = try await outages(client)
            #expect(all.map(\.device) == ["F2-D1"])
            let dp = try #require(all.first)
            #expect(dp.status == "restored" && dp.momentary, "restored at the first power-up, 90 s after the loss")
            #expect(dp.metersOut == 0)
            #expect(dp.restoredOffset == 90)
            #expect(try await client.scalar(
                "SELECT string_agg(DISTINCT power_status, ',') FROM oms_meters WHERE meter_number LIKE 'M-F2-D1-%'",
                as: String.self) == "on")
        }
    }

    @Test("a meter that reports a loss again after its power-up, while its outage is still active, is out again")
    func outAgainAfterPowerUp() async throws {
        try await withNetwork { client in
            let meters = (1...4).map { "M-F2-D1-\($0)" }
            try await gasps(meters, at: 0, on: client)
            try await powerUp(meters[0], at: 600, on: client)  // 1 of 4 back: the outage stays active
            func rows() async throws -> String {
                try await client.scalar("""
                    SELECT string_agg(m.meter_number || '=' || coalesce(extract(epoch FROM om.restored_at - \(base))::int::text, 'out')
                                      || coalesce('/' || om.restored_by, ''), ',' ORDER BY m.meter_number)
                      FROM oms_outage_meters om JOIN oms_meters m ON m.id = om.meter_id
                    """, as: String.self)
            }
            #expect(try await rows() == "M-F2-D1-1=600/power_up,M-F2-D1-2=out,M-F2-D1-3=out,M-F2-D1-4=out")
            #expect(try await visible(client).map(\.metersOut) == [3])

            try await gasp(meters[0], at: 900, on: client)
            #expect(try await rows() == "M-F2-D1-1=out,M-F2-D1-2=out,M-F2-D1-3=out,M-F2-D1-4=out")
            let dp = try #require(try await visible(client).first)
            #expect(dp.device == "F2-D1" && dp.metersOut == 4 && dp.status != "restored")
        }
    }

    @Test("momentary: a reclosing sequence closed within 5 minutes is one momentary outage with its interruptions; a long one is sustained")
    func momentary() async throws {
        try await withNetwork { client in
            try await scada("BreakerTrip", alarm: "Trip", feeder: "F1", at: 0, id: "A-1", on: client)
            try await reclosingAfterFirstTrip("F1", ids: "A", closedAt: 180, on: client)
            try await scada("Lockout", alarm: "Lockout", feeder: "F2", at: 100, id: "B-1", on: client)
            try await scada("BreakerClose", alarm: "Close", feeder: "F2", at: 2000, id: "B-2", on: client)
            let shown = try await visible(client)
            #expect(shown.count == 2)
            let f1 = try #require(shown.first { $0.device == "F1" })
            #expect(f1.status == "restored")
            #expect(f1.momentary)
            #expect(f1.interruptions == 3)
            #expect(f1.restoredOffset == 180)
            #expect(try await timeline(f1.code, client).last?.contains("-> momentary") == true)
            let f2 = try #require(shown.first { $0.device == "F2" })
            #expect(!f2.momentary)
            #expect(f2.interruptions == 1)
            #expect(f2.meters == 16)
            #expect(f2.metersOut == 0)
        }
    }

    @Test("a reclosing sequence whose first trip arrives last, after last gasps rolled the feeder up: one outage of the feeder, its interruptions counted, from the first trip")
    func reclosingSequenceAfterRollUp() async throws {
        try await withNetwork { client in
            // The first trip (at 0) is delayed; the feeder's last gasps arrive first and roll it up.
            for (index, meter) in ["M-F2-D1-1", "M-F2-D1-2", "M-F2-D2-1", "M-F2-D2-3"].enumerated() {
                try await gasp(meter, at: 0.07 + Double(index) / 100, on: client)
            }
            #expect(try await visible(client).map(\.basis) == ["rollup"])
            // The reclose restores the roll-up's outage; the trip 0.1 s later is the same sequence.
            try await reclosingAfterFirstTrip("F2", ids: "R", closedAt: 100, on: client)
            try await scada("BreakerTrip", alarm: "Trip", feeder: "F2", at: 0, id: "R-1", on: client)
            let shown = try await visible(client)
            #expect(shown.count == 1)
            let feeder = try #require(shown.first)
            #expect(feeder.device == "F2")
            #expect(feeder.basis == "telemetry")
            #expect(feeder.interruptions == 3)
            #expect(feeder.startOffset == 0)
            #expect(feeder.restoredOffset == 100)
            #expect(feeder.momentary)
            // Every SCADA message and last gasp is the one outage's.
            #expect(try await client.scalar(
                "SELECT count(DISTINCT outage_event_id)::int FROM scada_events", as: Int.self) == 1)
            #expect(try await client.scalar(
                "SELECT count(DISTINCT outage_event_id)::int FROM kaifa_events", as: Int.self) == 1)
        }
    }

    /// What follows a feeder's first trip (at 0) in a reclosing sequence: reclose at 0.5 s, trip at
    /// 0.6 s, reclose at 15.6 s, trip at 15.7 s, lockout at 45.7 s, close at `closedAt` (ids PREFIX-2…-7).
    func reclosingAfterFirstTrip(_ feeder: String, ids prefix: String, closedAt: Double,
                                 on client: PostgresClient) async throws {
        let steps: [(String, Double)] = [("Reclose", 0.5), ("Trip", 0.6), ("Reclose", 15.6), ("Trip", 15.7),
                                         ("Lockout", 45.7), ("Close", closedAt)]
        for (index, (alarm, seconds)) in steps.enumerated() {
            let eventType = alarm == "Lockout" ? "Lockout" : "Breaker" + alarm
            try await scada(eventType, alarm: alarm, feeder: feeder, at: seconds, id: "\(prefix)-\(index + 2)", on: client)
        }
    }

    @Test("communication loss is not power loss: network-loss codes never open an outage")
    func communicationLoss() async throws {
        try await withNetwork { client in
            for meter in 1...4 {
                try await kaifa("3.23.136.47", meter: "M-F2-D3-\(meter)", at: Double(meter), id: "nl-\(meter)", on: client)
            }
            #expect(try await outages(client).isEmpty)
        }
    }

    @Test("nested: meters that report a loss after their feeder was restored, with no power-up, are an outage backdated to its start and leave it")
    func nested() async throws {
        try await withNetwork { client in
            try await scada("Lockout", alarm: "Lockout", feeder: "F1", at: 0, id: "S-1", on: client)
            try await scada("BreakerClose", alarm: "Close", feeder: "F1", at: 1800, id: "S-2", on: client)
            try await gasp("M-F1-D2-1", at: 1860, on: client)
            try await gasp("M-F1-D2-2", at: 1861, on: client)
            let shown = try await visible(client)
            let feeder = try #require(shown.first { $0.device == "F1" })
            let nested = try #require(shown.first { $0.device == "F1-D2" })
            #expect(nested.parent == feeder.code)
            #expect(nested.startOffset == 0)
            #expect(nested.basis == "prediction")
            #expect(nested.metersOut == 4)
            // The feeder's outage no longer counts the nested meters: no customer minute twice.
            #expect(feeder.meters == 12)
            #expect(feeder.status == "restored")
        }
    }

    @Test("a loss delivered late, from during an outage already restored, joins that outage and opens nothing")
    func lateEvidence() async throws {
        try await withNetwork { client in
            for meter in 1...3 { try await gasp("M-F3-D3-\(meter)", at: Double(meter), on: client) }
            for meter in 1...3 { try await powerUp("M-F3-D3-\(meter)", at: 900 + Double(meter), on: client) }
            try await gasp("M-F3-D3-4", at: 2.5, on: client)
            let shown = try await visible(client)
            #expect(shown.count == 1)
            #expect(shown.first?.status == "restored")
            #expect(try await timeline(try #require(shown.first?.code), client).contains { $0.hasPrefix("late_evidence_linked") })
        }
    }
}
