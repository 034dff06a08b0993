import Foundation
import Logging
import PostgresNIO

/// The past months of the tables kept by month (`oms_monthly_tables()`: the audit trail, the AMI
/// and ONU events) written to files and dropped (`oms archive`), and brought back
/// (`oms restore-archive`).
///
/// One file per monthly partition, written and read by psql's `\copy` (CSV with a header, or
/// PostgreSQL's binary COPY format), and `manifest.json` naming each file's table, partition,
/// month, rows and SHA-256. A partition is dropped only after its file is complete on disk
/// (synced) and the manifest says so, and only if it still holds the rows written (a late event
/// written meanwhile keeps it; its file and entry are removed); a restore checks each file's
/// SHA-256 and loads it in one transaction that fails unless it holds exactly the manifest's rows.
public struct MonthlyArchive: Sendable {
    /// How the files are written.
    public enum Format: String, Codable, Sendable, CaseIterable {
        /// CSV with a header line: readable by anything.
        case csv
        /// PostgreSQL's binary COPY format: exact, faster, read back by PostgreSQL only.
        case binary

        var fileExtension: String { self == .csv ? "csv" : "copy" }
        var copyOptions: String { self == .csv ? "FORMAT csv, HEADER" : "FORMAT binary" }
    }

    /// One archived month of one table.
    public struct Entry: Codable, Sendable, Equatable {
        /// The table kept by month; absent in archives of the audit trail alone (before 0107).
        public var table: String?
        public var partition: String
        public var monthStart: Date
        public var monthEnd: Date
        public var rows: Int
        /// The file's name, in the archive's folder.
        public var file: String
        public var sha256: String
        public var format: Format
    }

    /// `manifest.json`: every month the folder holds.
    public struct Manifest: Codable, Sendable, Equatable {
        public var entries: [Entry] = []
    }

    /// Why an archive or a restore stopped; nothing of the month it names was dropped or loaded.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static let manifestName = "manifest.json"

    let client: PostgresClient
    let url: DatabaseURL
    let psql: String
    let logger: Logger

    /// `psql`: the client program (`PostgresInstallation.tool("psql")`); `url` is where it connects.
    public init(client: PostgresClient, url: DatabaseURL, psql: String, logger: Logger) {
        self.client = client
        self.url = url
        self.psql = psql
        self.logger = logger
    }

    /// The table an archive entry of an older release (no table named) belongs to.
    static let auditTrail = "oms_meter_status_events"

    /// Writes every monthly partition of every table kept by month that ends on or before `before`
    /// to `folder` and drops it; the months archived, by table, oldest first.
    public func archive(before: Date, to folder: String, format: Format) async throws -> [Entry] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = try await client.fetch("SELECT oms_partitions_ensure()", logger: logger)
        let months = try await client.fetch(
            """
            SELECT t.table_name, p.partition_name, p.month_start, p.month_end
              FROM oms_monthly_tables() WITH ORDINALITY t, oms_partitions(t.table_name) p
             WHERE p.month_end <= \(before) ORDER BY t.ordinality, p.month_start
            """, logger: logger
        ).decode((String, String, Date, Date).self)
        var manifest = try Self.readManifest(folder) ?? Manifest()
        var archived: [Entry] = []
        for (table, partition, start, end) in months {
            let file = "\(partition).\(format.fileExtension)"
            let path = (folder as NSString).appendingPathComponent(file)
            guard !FileManager.default.fileExists(atPath: path) else {
                throw Failure(description: "\(path) exists already: archive \(partition) into another folder (nothing dropped)")
            }
            let rows = try await copy("\\copy public.\(partition) TO \(Self.quoted(path)) WITH (\(format.copyOptions))")
            try Self.sync(path)
            let entry = Entry(table: table, partition: partition, monthStart: start, monthEnd: end, rows: rows, file: file,
                              sha256: try await sha256(of: path), format: format)
            let before = manifest
            manifest.entries.removeAll { $0.partition == partition }
            manifest.entries.append(entry)
            manifest.entries.sort { ($0.table ?? Self.auditTrail, $0.monthStart) < ($1.table ?? Self.auditTrail, $1.monthStart) }
            try Self.writeManifest(manifest, to: folder)
            do {
                _ = try await client.fetch("SELECT oms_partition_drop(\(table), \(partition), \(rows))", logger: logger)
            } catch {
                // Rows were written since the copy (a late event): the month stays, its file goes.
                manifest = before
                try Self.writeManifest(manifest, to: folder)
                try? FileManager.default.removeItem(atPath: path)
                throw Failure(description: "\(partition) not dropped: \(error.readableDatabaseMessage); its file was removed, run oms archive again")
            }
            logger.notice("month archived and dropped", metadata: [
                "table": "\(table)", "partition": "\(partition)", "rows": "\(rows)", "file": "\(path)",
            ])
            archived.append(entry)
        }
        return archived
    }

    /// Loads every month of the archive in `folder` back into its partition; the months restored.
    /// A month whose partition holds rows already is refused (restored before), as is a file whose
    /// SHA-256 is not the manifest's.
    public func restore(from folder: String) async throws -> [Entry] {
        guard let manifest = try Self.readManifest(folder) else {
            throw Failure(description: "\(folder) holds no \(Self.manifestName): not an oms archive")
        }
        var restored: [Entry] = []
        for entry in manifest.entries {
            let path = (folder as NSString).appendingPathComponent(entry.file)
            guard FileManager.default.fileExists(atPath: path) else {
                throw Failure(description: "\(entry.partition): \(path) is missing")
            }
            guard try await sha256(of: path) == entry.sha256 else {
                throw Failure(description: "\(entry.partition): \(path) is not the file archived (its SHA-256 differs)")
            }
            let names: [String] = try await client.fetch(
                "SELECT oms_partition_create(\(entry.table ?? Self.auditTrail), \(entry.monthStart))", logger: logger).decode(String.self)
            let partition = names.first ?? entry.partition
            let counts: [Int64] = try await client.fetch(
                PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(Self.identifier(partition))"), logger: logger).decode(Int64.self)
            let present = counts.first ?? 0
            guard present == 0 else {
                throw Failure(description: "\(partition) holds \(present) rows already: restored before? (nothing loaded)")
            }
            // One transaction: the rows, then the count check that undoes them unless it is the manifest's.
            _ = try await copy(
                "\\copy public.\(partition) FROM \(Self.quoted(path)) WITH (\(entry.format.copyOptions))",
                then: "SELECT oms_partition_restored('\(entry.table ?? Self.auditTrail)', '\(partition)', \(entry.rows))")
            logger.notice("month restored", metadata: ["partition": "\(partition)", "rows": "\(entry.rows)"])
            restored.append(entry)
        }
        return restored
    }

    /// Runs `command` (a `\copy`) and `check` in one psql transaction; the rows `\copy` reported.
    private func copy(_ command: String, then check: String? = nil) async throws -> Int {
        var arguments = ["--no-psqlrc", "--no-password", "--single-transaction", "--set=ON_ERROR_STOP=1", "--command=\(command)"]
        if let check { arguments.append("--command=\(check)") }
        let (status, output) = try await ExternalCommand.run(psql, arguments, environment: url.libpqEnvironment)
        guard status == 0 else {
            throw Failure(description: "psql \\copy failed (exit status \(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("COPY ") }),
              let count = Int(line.dropFirst("COPY ".count).trimmingCharacters(in: .whitespaces)) else {
            throw Failure(description: "psql \\copy said no row count: \(output)")
        }
        return count
    }

    private func sha256(of path: String) async throws -> String {
        let (status, output) = try await ExternalCommand.run("/usr/bin/env", ["sha256sum", "--", path])
        guard status == 0, let digest = output.split(separator: " ").first, digest.count == 64 else {
            throw Failure(description: "sha256sum \(path) failed: \(output)")
        }
        return String(digest)
    }

    /// A path as a psql literal.
    static func quoted(_ path: String) -> String { "'" + path.replacingOccurrences(of: "'", with: "''") + "'" }

    /// A partition's name as an SQL identifier (the names are ours: letters, digits, underscores).
    static func identifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static func readManifest(_ folder: String) throws -> Manifest? {
        let path = (folder as NSString).appendingPathComponent(manifestName)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(Manifest.self, from: data)
        } catch {
            throw Failure(description: "\(path) is not an archive manifest: \(error)")
        }
    }

    /// Writes the manifest whole or not at all (a temporary file, synced, renamed over the old one).
    static func writeManifest(_ manifest: Manifest, to folder: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = (folder as NSString).appendingPathComponent(manifestName)
        let temporary = path + ".writing"
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: temporary))
        try sync(temporary)
        guard rename(temporary, path) == 0 else { throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
        try sync(folder)
    }

    /// Flushes a file (or a folder's entries) to disk.
    static func sync(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw Failure(description: "cannot open \(path) to sync it") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Failure(description: "cannot sync \(path) to disk") }
    }
}
