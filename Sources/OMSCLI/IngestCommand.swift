import ArgumentParser
import Foundation
import OMSFeeds
import OMSStore

/// `oms ingest scada FILE|-`: feed events from a file or standard input.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Feed events from a file or standard input through the same SQL functions as the HTTP API.",
        subcommands: [SCADA.self]
    )

    /// `oms ingest scada`.
    struct SCADA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scada",
            abstract: "SCADA events (one JSON object, an array, or NDJSON); exits 1 if any was refused.")

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "A file of SCADA events, or - for standard input.")
        var file: String

        func run() async throws {
            let logger = database.makeLogger()
            let body = try readInput(file)
            let items = SCADADecoder.decodeBatch(body)
            let outcomes = try await database.withDatabase(logger: logger) { configuration, _ in
                try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                    try await SCADAIngestor(client: client, logger: logger).ingest(items)
                }
            }
            var refused = 0
            for (index, outcome) in outcomes.enumerated() {
                switch outcome {
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
}

/// The bytes of a file, or of standard input for "-".
func readInput(_ path: String) throws -> [UInt8] {
    if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read \(path)")
    }
    return Array(data)
}

extension SCADACheckSummary {
    /// One line for a terminal.
    var line: String {
        let place = [substationID, feederID].compactMap { $0 }.joined(separator: "/")
        guard metersChecked else { return "\(place)  not checked: \(reason ?? "")" }
        let outage = outageEventCode.map { ", outage \($0)" } ?? ", no outage"
        return "\(place)  \(totalMeters) meters checked: \(offlineMeters) offline, \(onlineMeters) online, \(unknownMeters) unknown\(outage)"
    }
}
