import ArgumentParser
import Foundation
import OMSDomain
import OMSStore

/// `oms import PATH`: the network and the meter registry from CSV or GeoJSON files.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import substations, feeders, distribution points, customers and meters from CSV or GeoJSON; exits 1 if a row was refused.",
        discussion: """
            PATH is a file or a folder. A file's kind comes from its name (substations, feeders, \
            distribution_points, customers, meters; .csv with a header row, .geojson of Point features whose \
            properties carry the same fields) or from --kind. A folder's files are imported in that order. \
            Rows are upserted by business key: a second import of the same files changes nothing, and an \
            empty field never clears a stored value. Refused rows are listed with file, line and reason; the \
            other rows are imported. Each file is one transaction. The schema is migrated first.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "A file, or a folder of files named by kind.")
    var path: String

    @Option(help: "The kind of a single file whose name does not say it (substations, feeders, distribution_points, customers, meters).")
    var kind: String?

    @Option(help: "Print at most this many refused rows per file (all are counted).")
    var maxRejects: Int = 50

    func validate() throws {
        if let kind, RegistryKind(rawValue: kind) == nil {
            throw ValidationError("--kind must be one of \(RegistryKind.allCases.map(\.rawValue).joined(separator: ", ")), not \(kind)")
        }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let files: [(path: String, kind: RegistryKind, format: RegistryFileFormat)]
        do {
            files = try RegistryImporter.files(at: path, kind: kind.flatMap(RegistryKind.init(rawValue:)))
        } catch let error as RegistryFileError {
            throw ValidationError(error.description)
        }
        let maxRejects = maxRejects
        let summaries = try await database.withDatabase(logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                _ = try await MigrationRunner.bundled(logger: logger).migrate(client)
                let importer = RegistryImporter(client: client, logger: logger) { file, rows in
                    FileHandle.standardError.write(Data("\(file): \(rows) rows read\n".utf8))
                }
                // Each file's seconds: from the previous file's commit (or the start) to its own;
                // the next file is read while the previous one is checked, so they add up to the whole.
                var lastDone = ContinuousClock.now
                let summaries = try await importer.importFiles(files) { summary in
                    let seconds = (ContinuousClock.now - lastDone).seconds
                    lastDone = ContinuousClock.now
                    print("\(summary.file): \(summary.rowsRead) rows in \(String(format: "%.1f", seconds)) s: \(summary.inserted) inserted, \(summary.updated) updated, \(summary.unchanged) unchanged, \(summary.rejects.count) refused")
                    let isCSV = files.first { $0.path == summary.file }?.format == .csv
                    for reject in summary.rejects.prefix(maxRejects) {
                        let place = isCSV ? "line \(reject.line)" : "feature \(reject.line)"
                        print("  \(summary.file) \(place): \(reject.field.map { "\($0): " } ?? "")\(reject.reason)")
                    }
                    if summary.rejects.count > maxRejects {
                        print("  ... and \(summary.rejects.count - maxRejects) more refused rows")
                    }
                }
                let started = ContinuousClock.now
                let counted = try await importer.countDeviceSizes()
                print("device sizes counted: \(counted) in \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s")
                return summaries
            }
        }
        var table = TextTable(columns: ["file", "kind", "rows", "inserted", "updated", "unchanged", "refused"])
        for summary in summaries {
            table.append([
                summary.file, summary.kind.rawValue, "\(summary.rowsRead)", "\(summary.inserted)", "\(summary.updated)",
                "\(summary.unchanged)", "\(summary.rejects.count)",
            ])
        }
        print(table.render())
        if summaries.contains(where: { !$0.rejects.isEmpty }) { throw ExitCode(1) }
    }
}
