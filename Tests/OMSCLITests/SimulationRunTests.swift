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

    @Test("end to end: oms simulate network, oms import, oms simulate scenario, oms replay, oms score")
    func simulateReplayScore() async throws {
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
                try await run(["replay", "\(folder)/storm", "--database-url", url])
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
                // The stored outages are what the score read.
                let stored = try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_outage_events WHERE status <> 'cancelled'", as: Int.self)
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
