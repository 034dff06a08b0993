import ArgumentParser
import Foundation
import OMSSimulation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI

extension CommandTests {
    /// Decodes what `oms score --json` wrote.
    func scoreCard(_ path: String) throws -> ScoreCard {
        try JSONDecoder().decode(ScoreCard.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("end to end: oms simulate network, oms import, oms simulate scenario, oms replay, oms score; answered once applied, and answered durable (the feed intake, KAIFA and ONU correlated together)",
          arguments: ["applied", "durable"])
    func simulateReplayScore(acknowledge: String) async throws {
        try await withScratchFolder { folder in
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                try await run(["simulate", "network", "--substations", "2", "--feeders-per-substation", "3",
                               "--dps-per-feeder", "4", "--meters", "600", "--seed", "9", "--out", "\(folder)/net"])
                try await run(["import", "\(folder)/net", "--database-url", url])
                // A storm without lost last gasps: two feeders and three DPs fail; the feeds still repeat and delay.
                try await run(["simulate", "scenario", "--network", "\(folder)/net", "--kind", "storm", "--seed", "9",
                               "--failed-dps", "3", "--failed-feeders", "2", "--failed-substations", "0",
                               "--last-gasp-loss", "0", "--out", "\(folder)/storm"])
                try await run(["replay", "\(folder)/storm", "--database-url", url, "--acknowledge", acknowledge])
                #expect(try await database.client.scalar("SELECT count(*)::int FROM oms_feed_intake", as: Int.self) == 0,
                        "the replay ends once every message is applied")
                let truth = try ScenarioFiles.readTruth("\(folder)/storm/truth.json")
                let log = try ScenarioFiles.readDeliveryLog("\(folder)/storm/delivery.json")
                #expect(log.requests.first?.firstSeq == 1)
                #expect(log.requests.last?.lastSeq == truth.counts.messages, "every message was sent")
                #expect(try await database.client.scalar("SELECT count(*)::int FROM scada_events", as: Int.self) > 0)

                try await run(["score", "\(folder)/storm", "--database-url", url, "--json", "\(folder)/score.json"])
                let card = try scoreCard("\(folder)/score.json")
                #expect(card.failures == 5)
                #expect(card.found == 5, "every failed device has its outage: \(card.results.map { "\($0.id) \($0.outage ?? "missed")" })")
                #expect(card.recall == 1)
                #expect(card.falseOutages[.communicationLoss] == 0 && card.falseOutages[.other] == 0)
                #expect(card.results.allSatisfy { $0.detectionLatencySeconds != nil }, "the delivery log gives each found failure a latency")
                // The stored outages are what the score read (a merged one counts through its survivor).
                let stored = try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_outage_events WHERE status NOT IN ('cancelled', 'merged')", as: Int.self)
                #expect(stored == card.outages)

                // Replayed again: every message is a repeat, nothing changes.
                try await run(["replay", "\(folder)/storm/events.jsonl", "--database-url", url, "--log", "\(folder)/again.json"])
                try await run(["score", "\(folder)/storm/truth.json", "--database-url", url, "--json", "\(folder)/score2.json",
                               "--delivery", "\(folder)/storm/delivery.json"])
                let again = try scoreCard("\(folder)/score2.json")
                #expect(again.outages == card.outages && again.found == card.found && again.customersFound == card.customersFound)
            }
        }
    }

    @Test("communication noise alone opens no outage: oms score finds no false outage")
    func commNoiseOpensNothing() async throws {
        try await withScratchFolder { folder in
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                try await run(["simulate", "network", "--substations", "1", "--feeders-per-substation", "2",
                               "--dps-per-feeder", "5", "--meters", "500", "--out", "\(folder)/net"])
                try await run(["import", "\(folder)/net", "--database-url", url])
                try await run(["simulate", "scenario", "--network", "\(folder)/net", "--kind", "comm-noise",
                               "--comm-noise", "0.1", "--out", "\(folder)/noise"])
                try await run(["replay", "\(folder)/noise", "--database-url", url, "--batch", "7"])
                // Every silent meter was heard from again by the end, late messages notwithstanding.
                #expect(try await database.client.scalar(
                    "SELECT count(*)::int FROM kaifa_events WHERE event_meaning = 'comm_lost'", as: Int.self) > 0)
                #expect(try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_meters WHERE communication_status = 'offline' OR power_status = 'off'", as: Int.self) == 0)
                try await run(["score", "\(folder)/noise", "--database-url", url, "--json", "\(folder)/score.json"])
                let card = try scoreCard("\(folder)/score.json")
                #expect(card.failures == 0)
                #expect(card.outages == 0)
                #expect(card.f1 == 1)
            }
        }
    }
}

extension CommandTests {
    @Test("oms simulate scenario, oms replay and oms score refuse bad input by name, writing nothing")
    func simulationRefusals() async throws {
        try await withScratchFolder { folder in
            func refusal(_ arguments: [String]) async -> String {
                do {
                    try await run(arguments)
                    return "accepted"
                } catch {
                    return OMSCommand.message(for: OMSCommand.readable(error))
                }
            }
            try await run(["simulate", "network", "--meters", "50", "--substations", "1", "--feeders-per-substation", "1",
                           "--dps-per-feeder", "2", "--out", "\(folder)/net"])
            let base = ["simulate", "scenario", "--network", "\(folder)/net", "--out", "\(folder)/sc"]
            #expect(await refusal(base + ["--last-gasp-loss", "1.5"]).contains("--last-gasp-loss must be between 0 and 1"))
            #expect(await refusal(base + ["--restoration-minutes", "30"]).contains("--restoration-minutes must be MIN-MAX"))
            #expect(await refusal(base + ["--start", "2026-01-15 12:00"]).contains("--start must be an ISO 8601 time with a zone"))
            #expect(await refusal(base + ["--kind", "hurricane"]).contains("hurricane"))
            #expect(await refusal(["simulate", "scenario", "--network", folder, "--out", "\(folder)/sc"]).contains("simulation.json"))
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/sc"), "nothing written")

            #expect(await refusal(["replay", "\(folder)/missing", "--url", "http://127.0.0.1:1"]).contains("--url needs --key"))
            try "{\"seq\": 1, \"feed\": \"scada\"}\n".write(toFile: "\(folder)/bad.jsonl", atomically: true, encoding: .utf8)
            #expect(await refusal(["replay", "\(folder)/bad.jsonl", "--url", "http://127.0.0.1:1", "--key", "k"]).contains("bad.jsonl:1"))
            #expect(await refusal(["score", "\(folder)/bad.jsonl", "--database-url", "postgres://nobody@127.0.0.1:1/x"]).contains("bad.jsonl"))
        }
    }
}

extension CommandTests {
    @Test("oms replay --speed keeps the scenario's pace, scaled: no request goes before its messages are due")
    func replayAtSpeed() async throws {
        try await withScratchFolder { folder in
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                try await run(["simulate", "network", "--substations", "1", "--feeders-per-substation", "2",
                               "--dps-per-feeder", "2", "--meters", "40", "--out", "\(folder)/net"])
                try await run(["import", "\(folder)/net", "--database-url", url])
                try await run(["simulate", "scenario", "--network", "\(folder)/net", "--kind", "breaker-trip",
                               "--restoration-minutes", "20-20", "--out", "\(folder)/trip"])
                let deliveries = try ScenarioFiles.readDeliveries("\(folder)/trip/events.jsonl")
                let span = deliveries.last!.deliverAt.timeIntervalSince(deliveries.first!.deliverAt)
                let speed = span / 1.5  // the whole scenario in a second and a half
                try await run(["replay", "\(folder)/trip", "--speed", "\(speed)", "--database-url", url])
                let log = try ScenarioFiles.readDeliveryLog("\(folder)/trip/delivery.json")
                #expect(log.speed == speed)
                let start = try #require(log.requests.first).sentAt
                let due = Dictionary(uniqueKeysWithValues: deliveries.map {
                    ($0.seq, $0.deliverAt.timeIntervalSince(deliveries[0].deliverAt) / speed)
                })
                for request in log.requests {
                    // Times are kept to the millisecond.
                    #expect(request.sentAt.timeIntervalSince(start) >= due[request.lastSeq]! - 0.002,
                            "request of \(request.firstSeq)...\(request.lastSeq) went before it was due")
                }
                #expect(try #require(log.requests.last).sentAt.timeIntervalSince(start) >= 1.4)
                #expect(try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_outage_events WHERE feeder_id IS NOT NULL AND dp_id IS NULL", as: Int.self) == 1)
            }
        }
    }
}
