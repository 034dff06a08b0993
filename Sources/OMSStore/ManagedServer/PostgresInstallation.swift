import Foundation

/// Where the PostgreSQL server programs (`initdb`, `postgres`) are installed.
public struct PostgresInstallation: Sendable, Equatable {
    /// The folder holding `initdb`, `postgres` and `pg_isready`.
    public let binDirectory: String

    public init(binDirectory: String) {
        self.binDirectory = binDirectory
    }

    /// The full path of one of the server's programs.
    public func tool(_ name: String) -> String { "\(binDirectory)/\(name)" }

    /// The usual install folders, newest version first: Debian and Ubuntu's
    /// `/usr/lib/postgresql/*/bin`, Homebrew's, and the source build's.
    public static var standardFolders: [String] {
        versionedFolders(under: "/usr/lib/postgresql", suffix: "bin")
            + versionedFolders(under: "/opt/homebrew/opt", prefix: "postgresql@", suffix: "bin")
            + ["/usr/local/pgsql/bin", "/usr/pgsql/bin"]
    }

    /// Finds the server programs: `OMS_PG_BINDIR`, then PATH, then `pg_config --bindir`,
    /// then `standardFolders`.
    public static func locate(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        standardFolders: [String] = PostgresInstallation.standardFolders
    ) throws -> PostgresInstallation {
        var candidates: [String] = []
        if let explicit = environment["OMS_PG_BINDIR"], !explicit.isEmpty { candidates.append(explicit) }
        let path = environment["PATH"] ?? ""
        for directory in path.split(separator: ":") { candidates.append(String(directory)) }
        if let pgConfig = ChildProcess.which("pg_config", path: path),
           let result = try? ChildProcess.runBlocking(pgConfig, ["--bindir"]), result.status == 0 {
            candidates.append(result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        candidates += standardFolders

        for directory in candidates where isServerFolder(directory) {
            // /usr/local/bin/postgres may be a link into the real folder, which
            // also holds psql and pg_isready: use that folder.
            let real = URL(fileURLWithPath: "\(directory)/postgres").resolvingSymlinksInPath()
            return PostgresInstallation(binDirectory: real.deletingLastPathComponent().path)
        }
        throw ManagedPostgresError.serverNotInstalled
    }

    static func isServerFolder(_ directory: String) -> Bool {
        ["initdb", "postgres", "pg_ctl"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)")
        }
    }

    /// `base/<prefix><version>/<suffix>` folders, newest version first.
    static func versionedFolders(under base: String, prefix: String = "", suffix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return names
            .filter { $0.hasPrefix(prefix) }
            .compactMap { name -> (Double, String)? in
                guard let version = Double(name.dropFirst(prefix.count)) else { return nil }
                return (version, "\(base)/\(name)/\(suffix)")
            }
            .sorted { $0.0 > $1.0 }
            .map(\.1)
    }
}
