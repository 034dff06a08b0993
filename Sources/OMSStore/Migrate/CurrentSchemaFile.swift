import Foundation

/// One current schema file: `NN_area.sql` in the package's `Schema/current` resource
/// folder, holding the functions, triggers and views of one area, each written with
/// `CREATE OR REPLACE`. Applied after the versioned files, in file-name order, and
/// again whenever its checksum changes (or a versioned file was applied).
public struct CurrentSchemaFile: Sendable, Equatable {
    /// The number that orders the file (its name's two-digit prefix).
    public let order: Int
    /// The file name, e.g. `07_scada_feed.sql`.
    public let fileName: String
    /// The file's SQL.
    public let sql: String

    public init(order: Int, fileName: String, sql: String) {
        self.order = order
        self.fileName = fileName
        self.sql = sql
    }

    /// The file's path under `Schema/` (`current/07_scada_feed.sql`), as `load.sql` names it.
    public var path: String { "current/\(fileName)" }

    /// The current files shipped with this build, in order.
    public static func bundled() throws -> [CurrentSchemaFile] {
        guard let folder = Migration.bundledSchemaFolder?.appendingPathComponent("current") else {
            throw MigrationError.missingResources
        }
        return try load(from: folder)
    }

    /// Reads every `NN_name.sql` file of `folder`, in order.
    public static func load(from folder: URL) throws -> [CurrentSchemaFile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }
        var files: [CurrentSchemaFile] = []
        for name in names {
            guard let order = Migration.orderPrefix(ofFileName: name, digits: 2) else {
                throw MigrationError.badFileName(name)
            }
            let sql = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            files.append(CurrentSchemaFile(order: order, fileName: name, sql: sql))
        }
        files.sort { $0.order < $1.order }
        for (previous, next) in zip(files, files.dropFirst()) where previous.order == next.order {
            throw MigrationError.duplicateVersion(previous.fileName, next.fileName)
        }
        return files
    }
}
