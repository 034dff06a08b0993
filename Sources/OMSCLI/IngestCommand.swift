import ArgumentParser
import Foundation
import OMSFeeds
import OMSStore

/// `oms ingest scada|onu|kaifa|callcenter FILE|-`: feed events from a file or standard input.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Feed events from a file or standard input through the same SQL functions as the HTTP API.",
        subcommands: [SCADA.self, ONU.self, KAIFA.self, CallCenter.self]
    )

    /// `oms ingest scada`.
    struct SCADA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scada",
            abstract: "SCADA events (one JSON object, an array, or NDJSON); exits 1 if any was refused.")

        @OptionGroup var input: IngestInput

        func run() async throws { try await input.ingest(.scada) }
    }

    /// `oms ingest onu`.
    struct ONU: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "onu",
            abstract: "ONU alarms (one JSON object, an array, or NDJSON); exits 1 if any was refused.")

        @OptionGroup var input: IngestInput

        func run() async throws { try await input.ingest(.onu) }
    }
}

extension IngestCommand {
    /// `oms ingest kaifa`.
    struct KAIFA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kaifa",
            abstract: "AMI head-end EndDeviceEvents: CreatedEndDeviceEvents XML (SOAP or not) or JSON; exits 1 if any was refused.")

        @OptionGroup var input: IngestInput

        func run() async throws { try await input.ingest(.kaifa) }
    }

    /// `oms ingest callcenter`.
    struct CallCenter: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "callcenter",
            abstract: "Call-center tickets (one JSON object, an array, or NDJSON); exits 1 if any was refused.")

        @OptionGroup var input: IngestInput

        func run() async throws { try await input.ingest(.callCenter) }
    }
}

/// What every `oms ingest` subcommand takes: the database and a file.
struct IngestInput: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Argument(help: "A file of messages, or - for standard input.")
    var file: String

    /// Decodes the file, applies its messages (and any roll-up left deferred), prints one line
    /// each; exit 1 if any was refused.
    func ingest<Event: Sendable, Summary: FeedSummary & TerminalLine>(_ feed: Feed<Event, Summary>) async throws {
        let logger = database.makeLogger()
        let body = try readInput(file)
        let outcomes = try await database.withDatabase(logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                let outcomes = try await FeedIngestor(feed, client: client, logger: logger).ingest(body: body)
                // A roll-up another writer's lock deferred (a service serving the same database
                // does it too): done before the command ends, waiting for the lock.
                try await EngineSweep(client: client, logger: logger).run(patience: .zero)
                return outcomes
            }
        }
        var refused = 0
        for (index, outcome) in outcomes.enumerated() {
            switch outcome {
            case .applied(let summary) where outcome.isLate: print("late       #\(index)  \(summary.line) (stored; older than the meters' state: no status changed)")
            case .applied(let summary): print("applied    #\(index)  \(summary.line)")
            case .duplicate(let summary): print("duplicate  #\(index)  \(summary.line)")
            case .rejected(let error):
                refused += 1
                print("refused    #\(index)  \(FeedDecodingError(field: error.field, reason: error.reason))")
            }
        }
        if refused > 0 { throw ExitCode(1) }
    }
}

/// The bytes of a file, or of standard input for "-".
func readInput(_ path: String) throws -> [UInt8] {
    if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read \(path)")
    }
    return Array(data)
}

/// A one-line rendering for a terminal.
protocol TerminalLine {
    var line: String { get }
}

extension SCADACheckSummary: TerminalLine {
    var line: String {
        let place = [substationID, feederID].compactMap { $0 }.joined(separator: "/")
        guard metersChecked else { return "\(place)  not checked: \(reason ?? "")" }
        let outage = outageEventCode.map { ", outage \($0)" } ?? ", no outage"
        return "\(place)  \(totalMeters) meters checked: \(offlineMeters) offline, \(onlineMeters) online, \(unknownMeters) unknown\(outage)"
    }
}

extension MeterSyncSummary: TerminalLine {
    var line: String {
        guard matchStatus == "matched" else { return "\(kind)  unmatched: no meter in the registry (kept)" }
        return "\(kind)  \(metersMatched) meters (\(meterNumbers.joined(separator: ", "))): \(statusChanges) status changes"
            + (lateChanges > 0 ? ", \(lateChanges) late" : "")
            + ", \(outageEventIDs.count) outages (\(outagesOpened) opened)"
    }
}
