import ArgumentParser
import Foundation
import OMSSimulation
import OMSStore

/// `oms score`: the database's outages against a scenario's ground truth.
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Compare the database's outages with a scenario's ground truth: precision, recall, F1, customers, false outages, detection latency.",
        discussion: """
            TRUTH is a scenario folder or its truth.json; the delivery log oms replay wrote next to it (or \
            --delivery) gives the detection latency. Every outage in the database counts (cancelled ones \
            excepted): score a database that holds the scenario's network and nothing else. A failure is \
            found by an outage naming its device (DP, else feeder, else substation) first detected from a \
            minute before the failure to a minute after its restoration; other outages are false: duplicate, \
            below a failed device (not rolled up), above one, communication loss alone, or other.
            """
    )

    @Argument(help: "A scenario folder, or its truth.json.")
    var truth: String

    @Option(help: "The replay's delivery log (default: delivery.json next to the truth, when there).")
    var delivery: String?

    @Option(help: "Also write the score as JSON to this file.")
    var json: String?

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = database.makeLogger()
        let truthPath = ScenarioFiles.path(truth, file: ScenarioFiles.truth)
        let truth = try ScenarioFiles.readTruth(truthPath)
        let logPath = delivery
            ?? ((truthPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(ScenarioFiles.delivery)
        let log = delivery != nil || FileManager.default.fileExists(atPath: logPath) ? try ScenarioFiles.readDeliveryLog(logPath) : nil
        let rows = try await database.withDatabase(logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await OutageQueries(client: client, logger: logger).coverageJSON()
            }
        }
        let outages = try rows.map { try Self.outage(fromJSON: $0) }
        let card = ScoreCard.compute(truth: truth, outages: outages, delivery: log)
        print(card.render())
        if let json {
            try JSONOutput.write(card, to: json)
        }
    }

    /// One row of `OutageQueries.coverageJSON()`.
    struct Row: Decodable {
        var event_id: String
        var status: String
        var substation_id: String?
        var feeder_id: String?
        var dp_id: String?
        var first_detected_at: Double
        var created_at: Double
        var restored_at: Double?
        var momentary: Bool?
        var meters: [String]
        var customers: [String]
    }

    static func outage(fromJSON json: String) throws -> FoundOutage {
        let row = try JSONDecoder().decode(Row.self, from: Data(json.utf8))
        return FoundOutage(
            eventID: row.event_id, status: row.status, substationID: row.substation_id, feederID: row.feeder_id, dpID: row.dp_id,
            firstDetectedAt: Date(timeIntervalSince1970: row.first_detected_at), createdAt: Date(timeIntervalSince1970: row.created_at),
            restoredAt: row.restored_at.map { Date(timeIntervalSince1970: $0) }, momentary: row.momentary ?? false,
            meters: row.meters, customers: row.customers)
    }
}
