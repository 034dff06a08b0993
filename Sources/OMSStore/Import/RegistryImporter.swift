import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Imports network and registry files (`oms import`): each file is read in Swift
/// (CSV or GeoJSON), streamed into the session's staging table with COPY, then
/// checked and upserted by `oms_import_apply()` (migration 0021), all in one
/// transaction per file: its good rows land together, or none does.
public struct RegistryImporter: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Called every `progressInterval` rows read: (file, rows so far).
    let progress: @Sendable (String, Int) -> Void
    let progressInterval: Int

    public init(
        client: PostgresClient, logger: Logger, progressInterval: Int = 100_000,
        progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) {
        self.client = client
        self.logger = logger
        self.progress = progress
        self.progressInterval = progressInterval
    }

    /// The import files at `path` (a file, or a folder's files whose names name a kind), in import order.
    /// `kind` overrides the name (files only).
    public static func files(at path: String, kind: RegistryKind? = nil) throws -> [(path: String, kind: RegistryKind, format: RegistryFileFormat)] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw RegistryFileError(file: path, reason: "no such file or folder")
        }
        if !isFolder.boolValue {
            let name = (path as NSString).lastPathComponent
            guard let format = RegistryFileFormat(fileName: name) else {
                throw RegistryFileError(file: path, reason: "not a .csv, .geojson or .json file")
            }
            guard let kind = kind ?? RegistryKind(fileName: name) else {
                throw RegistryFileError(file: path, reason: "the name does not say its kind (\(RegistryKind.allCases.map(\.rawValue).joined(separator: ", "))); give --kind")
            }
            return [(path, kind, format)]
        }
        guard kind == nil else {
            throw RegistryFileError(file: path, reason: "--kind applies to one file, not to a folder")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        let files = names.compactMap { name -> (String, RegistryKind, RegistryFileFormat)? in
            guard let kind = RegistryKind(fileName: name), let format = RegistryFileFormat(fileName: name) else { return nil }
            return ((path as NSString).appendingPathComponent(name), kind, format)
        }
        guard !files.isEmpty else {
            throw RegistryFileError(file: path, reason: "no import files here (substations, feeders, distribution_points, customers or meters .csv/.geojson)")
        }
        return files.sorted { $0.1 < $1.1 }
    }

    /// Imports one file in one transaction.
    public func importFile(_ path: String, kind: RegistryKind, format: RegistryFileFormat) async throws -> RegistryImportSummary {
        try await importFile(RegistryFileReader(path: path, kind: kind, format: format), after: nil)
    }

    /// Imports files in the order given, each in its own transaction, and calls
    /// `fileDone` as each commits. While one file is checked and applied, the next
    /// is already read and staged on a second connection (reading a large CSV costs
    /// the client as much CPU as the server spends checking the previous file); its
    /// checks and upserts start only once the previous file has committed, so they
    /// see its rows. A file that fails stops the import: the one staged behind it is
    /// rolled back, and the error is thrown.
    public func importFiles(
        _ files: [(path: String, kind: RegistryKind, format: RegistryFileFormat)],
        fileDone: (RegistryImportSummary) -> Void = { _ in }
    ) async throws -> [RegistryImportSummary] {
        var summaries: [RegistryImportSummary] = []
        var previous: Task<RegistryImportSummary, any Error>?
        for file in files {
            let reader = RegistryFileReader(path: file.path, kind: file.kind, format: file.format)
            let prior = previous
            let current = Task { try await importFile(reader, after: prior) }
            if let prior {
                do {
                    let summary = try await prior.value
                    summaries.append(summary)
                    fileDone(summary)
                } catch {
                    current.cancel()
                    _ = try? await current.value
                    throw error
                }
            }
            previous = current
        }
        if let previous {
            let summary = try await previous.value
            summaries.append(summary)
            fileDone(summary)
        }
        return summaries
    }

    /// Counts ahead the device sizes the imported registry lacks (`oms_device_sizes_warm`), so that a
    /// storm's first requests in an area do not count them on their way. Returns how many were counted.
    public func countDeviceSizes() async throws -> Int {
        try await client.fetch("SELECT oms_device_sizes_warm()", logger: logger).decode(Int.self).first ?? 0
    }

    /// One file in one transaction: staged at once, applied once `prior` (the file
    /// before it) has committed.
    private func importFile(_ reader: RegistryFileReader, after prior: Task<RegistryImportSummary, any Error>?) async throws -> RegistryImportSummary {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let staged = try await stage(reader, on: connection)
                if let prior { _ = try await prior.value }
                try Task.checkCancellation()
                let summary = try await apply(reader, staged: staged, on: connection)
                try await connection.query("COMMIT", logger: logger)
                return summary
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Only reads the file and COPYs its rows into the staging table, then rolls
    /// back: the transfer an import costs before any check (the import benchmark's
    /// baseline). Returns the rows staged.
    public func stageOnly(_ path: String, kind: RegistryKind, format: RegistryFileFormat) async throws -> Int {
        let reader = RegistryFileReader(path: path, kind: kind, format: format)
        return try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let (rows, _) = try await stage(reader, on: connection)
                try await connection.query("ROLLBACK", logger: logger)
                return rows
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Streams the file's rows into pg_temp.oms_import_<kind> with COPY; the rows
    /// staged and those refused while reading.
    private func stage(_ reader: RegistryFileReader, on connection: PostgresConnection) async throws -> (Int, [RegistryReject]) {
        let kind = reader.kind
        try await connection.query("SELECT oms_import_prepare(\(kind.rawValue))", logger: logger)
        var readRejects: [RegistryReject] = []
        var rows = 0
        try await connection.copyFrom(table: "oms_import_\(kind.rawValue)", columns: ["line"] + kind.columns, logger: logger) { writer in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(1 << 20)
            try await reader.forEachRow { row in
                switch row {
                case .refused(let reject):
                    readRejects.append(reject)
                case .values(let line, let values):
                    rows += 1
                    buffer.writeString(String(line))
                    for value in values {
                        buffer.writeInteger(UInt8(ascii: "\t"))
                        if let value { buffer.writeCopyText(value) } else { buffer.writeStaticString("\\N") }
                    }
                    buffer.writeInteger(UInt8(ascii: "\n"))
                    if buffer.readableBytes >= 1 << 20 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                    if rows % progressInterval == 0 { progress(reader.path, rows) }
                }
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
        }
        return (rows, readRejects)
    }

    /// Checks and upserts the staged rows (`oms_import_apply`), and collects the refused ones.
    private func apply(_ reader: RegistryFileReader, staged: (Int, [RegistryReject]), on connection: PostgresConnection) async throws -> RegistryImportSummary {
        let kind = reader.kind
        let (rows, readRejects) = staged
        let counts = try await connection.query(
            "SELECT rows_read::int, inserted::int, updated::int, unchanged::int FROM oms_import_apply(\(kind.rawValue))",
            logger: logger)
        var summary = RegistryImportSummary(
            file: reader.path, kind: kind, rowsRead: rows + readRejects.count, inserted: 0, updated: 0, unchanged: 0,
            rejects: readRejects)
        for try await (_, inserted, updated, unchanged) in counts.decode((Int, Int, Int, Int).self) {
            summary.inserted = inserted
            summary.updated = updated
            summary.unchanged = unchanged
        }
        let rejects = try await connection.query(
            "SELECT line::int, field, reason FROM oms_import_rejects ORDER BY line", logger: logger)
        for try await (line, field, reason) in rejects.decode((Int, String?, String).self) {
            summary.rejects.append(RegistryReject(line: line, field: field, reason: reason))
        }
        summary.rejects.sort { $0.line < $1.line }
        return summary
    }
}

extension ByteBuffer {
    /// A value in COPY's text format: backslash, tab, newline and carriage return escaped.
    fileprivate mutating func writeCopyText(_ value: String) {
        if !value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
            writeString(value)
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): writeStaticString("\\\\")
            case UInt8(ascii: "\t"): writeStaticString("\\t")
            case UInt8(ascii: "\n"): writeStaticString("\\n")
            case UInt8(ascii: "\r"): writeStaticString("\\r")
            default: writeInteger(byte)
            }
        }
    }
}
