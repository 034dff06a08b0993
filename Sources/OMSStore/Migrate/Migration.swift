import Foundation

/// One versioned schema file: `NNNN_name.sql` in the package's `Schema/versioned`
/// resource folder (tables, columns, indexes, constraints, types, seed rows). Files
/// are applied in version order, each once and in one transaction, and never
/// edited once released (add a new file instead). See `Schema/README.md`.
public struct Migration: Sendable, Equatable {
    /// The number that orders the migration (the file name's prefix).
    public let version: Int
    /// The file name, e.g. `0100_baseline.sql`.
    public let fileName: String
    /// The file's SQL.
    public let sql: String

    public init(version: Int, fileName: String, sql: String) {
        self.version = version
        self.fileName = fileName
        self.sql = sql
    }

    /// The versioned files shipped with this build, in version order.
    public static func bundled() throws -> [Migration] {
        guard let folder = bundledSchemaFolder?.appendingPathComponent("versioned") else {
            throw MigrationError.missingResources
        }
        return try load(from: folder)
    }

    /// The bundled `Schema` folder: `versioned/`, `current/` and `load.sql` (for `psql -f`).
    public static var bundledSchemaFolder: URL? {
        Bundle.module.url(forResource: "Schema", withExtension: nil)
    }

    /// Reads every `NNNN_name.sql` file of `folder`, in version order.
    public static func load(from folder: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for name in names {
            guard let version = Self.version(ofFileName: name) else {
                throw MigrationError.badFileName(name)
            }
            let sql = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            migrations.append(Migration(version: version, fileName: name, sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            throw MigrationError.duplicateVersion(previous.fileName, next.fileName)
        }
        return migrations
    }

    /// The version of a file named `NNNN_some_name.sql`, or nil for any other name.
    static func version(ofFileName name: String) -> Int? {
        orderPrefix(ofFileName: name, digits: 4)
    }

    /// The number before the first `_` of `DD…_lowercase_name.sql` (exactly `digits` digits), or nil.
    static func orderPrefix(ofFileName name: String, digits: Int) -> Int? {
        let parts = name.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == digits, parts[0].allSatisfy(\.isNumber), let number = Int(parts[0]),
              name.hasSuffix(".sql"), name.count > digits + 5 else { return nil }
        let body = name.dropFirst(digits + 1).dropLast(4)
        guard body.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }) else { return nil }
        return number
    }
}

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

/// Why migrations could not be read or applied. Each case reads as a sentence.
public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case missingResources
    case badFileName(String)
    case duplicateVersion(String, String)
    case changedAfterApply(fileName: String, recorded: String, current: String)
    case unknownApplied(version: Int, fileName: String)
    case legacyIncomplete(version: Int, fileName: String)
    case statementFailed(fileName: String, line: Int, message: String)
    case malformedScript(fileName: String, reason: String)

    public var description: String {
        switch self {
        case .missingResources:
            return "a resource folder of OMSStore (Schema or Fixtures) is missing from this build"
        case .badFileName(let name):
            return "schema file \(name) is not named NNNN_lowercase_name.sql (versioned) or NN_lowercase_name.sql (current)"
        case .duplicateVersion(let first, let second):
            return "schema files \(first) and \(second) have the same number"
        case .changedAfterApply(let fileName, let recorded, let current):
            return """
                migration \(fileName) was changed after it was applied to this database \
                (checksum recorded \(recorded.prefix(12))…, file now \(current.prefix(12))…); \
                an applied migration must never change: restore the file and add a new numbered migration instead
                """
        case .unknownApplied(let version, let fileName):
            return """
                this database has migration \(fileName) (version \(version)), which this build of oms does not know; \
                it was migrated by a newer oms: upgrade oms instead
                """
        case .legacyIncomplete(let version, let fileName):
            return """
                this database was migrated by an older oms only up to \(fileName) (version \(version)); \
                this build upgrades databases at \(LegacySchema.fileNames.last ?? "the last numbered migration"): \
                migrate it with the oms release that has the numbered migrations first
                """
        case .statementFailed(let fileName, let line, let message):
            return "migration \(fileName) failed at line \(line): \(message); nothing of this file was applied"
        case .malformedScript(let fileName, let reason):
            return "migration \(fileName) cannot be read: \(reason)"
        }
    }
}
