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
