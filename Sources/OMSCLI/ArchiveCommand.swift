import ArgumentParser
import Foundation
import Logging
import OMSDomain
import OMSStore

/// `oms archive`: the months before a date of the tables kept by month written to files and dropped.
struct ArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Write the months before a date of the audit trail and the AMI and ONU events to files (CSV or binary COPY) and drop them from the database.",
        discussion: """
            oms_meter_status_events is partitioned by the (UTC) month each row was written, kaifa_events and \
            onu_events by the month of the event (oms_monthly_tables()). Every month that ends on or before --before \
            is written by psql's \\copy to DIR/<partition>.csv (or .copy), synced, recorded with its rows and SHA-256 \
            in DIR/manifest.json, and only then dropped, if it still holds the rows written. oms restore-archive DIR \
            brings them back. Needs psql (PostgreSQL's client programs) on this machine.
            """
    )

    @Option(help: "Archive the months that end on or before this date (ISO 8601: 2026-06-01 or 2026-06-01T00:00:00Z).")
    var before: String

    @Option(help: "The folder to write the files and manifest.json into.")
    var out: String

    @Option(help: "csv (with a header) or binary (PostgreSQL's COPY format).")
    var format: String = MonthlyArchive.Format.csv.rawValue

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard Self.instant(before) != nil else {
            throw ValidationError("--before \(before): not a date or time (2026-06-01, 2026-06-01T00:00:00Z)")
        }
        guard MonthlyArchive.Format(rawValue: format) != nil else {
            throw ValidationError("--format \(format): use csv or binary")
        }
    }

    /// A date (midnight UTC) or a time with its zone.
    static func instant(_ text: String) -> Date? {
        ISO8601Time.parse(text.count == 10 ? text + "T00:00:00Z" : text)
    }

    func run() async throws {
        let logger = database.makeLogger()
        let cutoff = Self.instant(before)!
        let format = MonthlyArchive.Format(rawValue: format)!
        let out = (self.out as NSString).standardizingPath
        let entries = try await database.withArchive(logger: logger) { archive in
            try await archive.archive(before: cutoff, to: out, format: format)
        }
        for entry in entries { print("\(entry.partition): \(entry.rows) rows -> \(entry.file)") }
        print(entries.isEmpty ? "no month ends on or before \(before): nothing archived" : "archived \(entries.count) months into \(out)")
    }
}

/// `oms restore-archive`: months written by `oms archive` loaded back into their tables.
struct RestoreArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-archive",
        abstract: "Load the months an oms archive folder holds back into their tables.",
        discussion: """
            Each file's SHA-256 is checked against DIR/manifest.json, and each month is loaded in one transaction \
            that fails unless it holds the manifest's rows; a month already in the database is refused.
            """
    )

    @Argument(help: "The folder oms archive wrote.")
    var folder: String

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = database.makeLogger()
        let folder = (self.folder as NSString).standardizingPath
        let entries = try await database.withArchive(logger: logger) { archive in
            try await archive.restore(from: folder)
        }
        for entry in entries { print("\(entry.partition): \(entry.rows) rows restored") }
        print("restored \(entries.count) months from \(folder)")
    }
}

extension DatabaseOptions {
    /// Runs `body` with the monthly archive of the configured database (psql found with the server's programs).
    func withArchive<Result: Sendable>(
        logger: Logger, _ body: @Sendable (MonthlyArchive) async throws -> Result
    ) async throws -> Result {
        let psql = try PostgresInstallation.locate().tool("psql")
        let explicit = explicitURL
        return try await withDatabase(logger: logger) { configuration, managedURL in
            let url = try DatabaseURL(explicit ?? managedURL)
            return try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await body(MonthlyArchive(client: client, url: url, psql: psql, logger: logger))
            }
        }
    }
}
