import Foundation

/// One numbered schema migration: a file `NNNN_name.sql` shipped in the package's
/// `Migrations` resource folder. Files are applied in version order, each in one
/// transaction, and never edited once applied (add a new file instead).
public struct Migration: Sendable, Equatable {
    /// The number that orders the migration (the file name's prefix).
    public let version: Int
    /// The file name, e.g. `0003_meter_registry.sql`.
    public let fileName: String
    /// The file's SQL.
    public let sql: String

    public init(version: Int, fileName: String, sql: String) {
        self.version = version
        self.fileName = fileName
        self.sql = sql
    }

    /// The migrations shipped with this build, in version order.
    public static func bundled() throws -> [Migration] {
        guard let folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError.missingResources
        }
        return try load(from: folder)
    }

    /// The folder holding the bundled migration files (for `psql -f`).
    public static var bundledFolder: URL? {
        Bundle.module.url(forResource: "Migrations", withExtension: nil)
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
        let parts = name.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]),
              name.hasSuffix(".sql"), name.count > 9 else { return nil }
        let body = name.dropFirst(5).dropLast(4)
        guard body.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }) else { return nil }
        return version
    }
}

/// Why migrations could not be read or applied. Each case reads as a sentence.
public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case missingResources
    case badFileName(String)
    case duplicateVersion(String, String)
    case changedAfterApply(fileName: String, recorded: String, current: String)
    case unknownApplied(version: Int, fileName: String)
    case statementFailed(fileName: String, line: Int, message: String)
    case malformedScript(fileName: String, reason: String)

    public var description: String {
        switch self {
        case .missingResources:
            return "the Migrations resource folder is missing from this build"
        case .badFileName(let name):
            return "migration file \(name) is not named NNNN_lowercase_name.sql"
        case .duplicateVersion(let first, let second):
            return "migration files \(first) and \(second) have the same number"
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
        case .statementFailed(let fileName, let line, let message):
            return "migration \(fileName) failed at line \(line): \(message); nothing of this file was applied"
        case .malformedScript(let fileName, let reason):
            return "migration \(fileName) cannot be read: \(reason)"
        }
    }
}
