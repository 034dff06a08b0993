import Foundation
import NIOSSL
import PostgresNIO

/// A PostgreSQL connection URL, as libpq and psql accept it:
/// `postgres://user:password@host:5432/db?sslmode=disable`, or for a Unix socket
/// `postgresql://user@/db?host=/path/to/socket/folder&port=5432`.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket *file* (`folder/.s.PGSQL.port`).
        case unixSocket(path: String)
    }

    /// TLS use, from `sslmode`.
    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// The URL with the password hidden, for logs.
    public var description: String {
        let credentials = password == nil ? username : "\(username):***"
        switch endpoint {
        case .tcp(let host, let port): return "postgres://\(credentials)@\(host):\(port)/\(database)"
        case .unixSocket(let path): return "postgres://\(credentials)@/\(database) (socket \(path))"
        }
    }

    /// Parses a URL; the error names what is wrong with it.
    public init(_ text: String) throws {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw DatabaseURLError("expected postgres://user@host:port/database, got \(text.debugDescription)")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let queryPort = query["port"].flatMap(Int.init)
        let port = components.port ?? queryPort ?? 5432
        let host = query["host"].flatMap { $0.isEmpty ? nil : $0 } ?? components.host.flatMap { $0.isEmpty ? nil : $0 }

        username = components.user.flatMap { $0.removingPercentEncoding } ?? query["user"] ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding } ?? query["password"]
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 } ?? query["dbname"] ?? username

        switch host {
        case .some(let host) where host.hasPrefix("/"):
            endpoint = .unixSocket(path: "\(host)/.s.PGSQL.\(port)")
        case .some(let host):
            endpoint = .tcp(host: host, port: port)
        case .none:
            endpoint = .unixSocket(path: "/var/run/postgresql/.s.PGSQL.\(port)")
        }
        let sslmode = query["sslmode"] ?? "disable"
        switch sslmode {
        case "disable", "allow": tls = .disable
        case "prefer": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        default: throw DatabaseURLError("unknown sslmode \(sslmode.debugDescription) (use disable, prefer or require)")
        }
        if case .unixSocket(let path) = endpoint, path.utf8.count > 107 {
            throw DatabaseURLError("the socket path \(path) is longer than the 107 bytes a Unix socket allows")
        }
    }

    /// The URL of a database reached through a Unix socket folder.
    public static func unixSocketURL(socketDirectory: String, port: Int, user: String, database: String) -> String {
        "postgresql://\(user)@/\(database)?host=\(socketDirectory)&port=\(port)"
    }

    /// The URL as libpq's environment variables, for psql and pg_dump: the password goes to the
    /// child's environment, never on a command line.
    public var libpqEnvironment: [String: String] {
        var variables = ["PGUSER": username, "PGDATABASE": database, "PGSSLMODE": tls.rawValue]
        switch endpoint {
        case .tcp(let host, let port):
            variables["PGHOST"] = host
            variables["PGPORT"] = String(port)
        case .unixSocket(let path):
            let url = URL(fileURLWithPath: path)
            variables["PGHOST"] = url.deletingLastPathComponent().path
            variables["PGPORT"] = url.lastPathComponent.split(separator: ".").last.map(String.init) ?? "5432"
        }
        if let password { variables["PGPASSWORD"] = password }
        return variables
    }

    /// PostgresNIO configuration for this URL.
    public func clientConfiguration() -> PostgresClient.Configuration {
        switch endpoint {
        case .unixSocket(let path):
            return PostgresClient.Configuration(
                unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            let tlsConfiguration: PostgresClient.Configuration.TLS
            switch tls {
            case .disable: tlsConfiguration = .disable
            case .prefer: tlsConfiguration = .prefer(.makeClientConfiguration())
            case .require: tlsConfiguration = .require(.makeClientConfiguration())
            }
            return PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: tlsConfiguration)
        }
    }
}
