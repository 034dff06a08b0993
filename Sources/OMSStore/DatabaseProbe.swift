import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import _ConnectionPoolModule

/// One connection attempt to the database a `PostgresClient.Configuration` names, outside any
/// pool: the way to learn, within a time limit, whether the database can be used and if not why.
///
/// Why not ask the pool: PostgresNIO's `PostgresClient` queues a request while it cannot create a
/// connection, retries in the background, and only fails the queued requests when its circuit
/// breaker trips, 60 s after the first failure (`ConnectionPoolConfiguration.circuitBreakerTripAfter`,
/// which `PostgresClient.Configuration` does not expose), with `connectionCreationCircuitBreakerTripped`
/// and not the reason. One `PostgresConnection.connect` instead fails as soon as the server or the
/// network answers, with the server's own error, and is bounded by `options.connectTimeout`.
public struct DatabaseProbe: Sendable {
    /// What the connection attempt uses.
    public let connection: PostgresConnection.Configuration
    /// Where, for messages: `user@host:port/database`, never the password.
    public let target: String
    /// How long one attempt may take (from `options.connectTimeout`).
    public let timeout: Duration

    /// The probe for the database `configuration` names, with its TLS and its connect timeout.
    public init(_ configuration: PostgresClient.Configuration) throws {
        var connection: PostgresConnection.Configuration
        let database = configuration.database.flatMap { $0.isEmpty ? nil : $0 } ?? configuration.username
        if let path = configuration.unixSocketPath {
            connection = PostgresConnection.Configuration(
                unixSocketPath: path, username: configuration.username, password: configuration.password,
                database: configuration.database)
            target = "\(configuration.username)@/\(database) (socket \(path))"
        } else {
            let host = configuration.host ?? "localhost"
            let port = configuration.port ?? 5432
            connection = PostgresConnection.Configuration(
                host: host, port: port, username: configuration.username, password: configuration.password,
                database: configuration.database, tls: try Self.tls(of: configuration.tls))
            target = "\(configuration.username)@\(Self.hostAndPort(host, port))/\(database)"
        }
        connection.options.connectTimeout = TimeAmount(configuration.options.connectTimeout)
        connection.options.tlsServerName = configuration.options.tlsServerName
        connection.options.requireBackendKeyData = configuration.options.requireBackendKeyData
        connection.options.additionalStartupParameters = configuration.options.additionalStartupParameters
        self.connection = connection
        self.timeout = configuration.options.connectTimeout
    }

    /// Connects, authenticates and disconnects; throws `DatabaseUnreachable` naming why not.
    public func check(logger: Logger) async throws {
        let connection = try await connect(logger: logger)
        try? await connection.close()
    }

    /// An open connection (the caller closes it), or `DatabaseUnreachable` naming why not.
    public func connect(logger: Logger) async throws -> PostgresConnection {
        // PostgresNIO bounds the TCP connect and the start-up by connectTimeout; the extra second
        // also bounds a name lookup that does not answer.
        let limit = timeout + .seconds(1)
        let connection = self.connection
        let outcome = await withTaskGroup(of: Result<PostgresConnection, any Error>?.self) { group in
            group.addTask {
                do {
                    return .success(try await PostgresConnection.connect(configuration: connection, id: 0, logger: logger))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            var outcome: Result<PostgresConnection, any Error> = .failure(ProbeTimeout())
            if let first = await group.next(), let result = first { outcome = result }
            group.cancelAll()
            // A connection that arrived after the limit is closed, not leaked.
            for await late in group {
                if case .success(let connection)? = late { try? await connection.close() }
            }
            return outcome
        }
        switch outcome {
        case .success(let connection): return connection
        case .failure(let error): throw DatabaseUnreachable(target: target, reason: reason(for: error))
        }
    }

    struct ProbeTimeout: Error {}

    /// The reason a connection attempt failed, in the server's words when it answered.
    public func reason(for error: any Error) -> String {
        Self.reason(for: error, timeout: timeout)
    }

    static func reason(for error: any Error, timeout: Duration) -> String {
        let seconds = "\(timeout.formattedSeconds) s"
        switch error {
        case let error as PSQLError:
            if let server = error.serverInfo, let message = server[.message] {
                var text = message
                if let detail = server[.detail] { text += " (\(detail))" }
                if let state = server[.sqlState] { text += " [SQLSTATE \(state)]" }
                return text
            }
            switch error.code {
            case .connectionError:
                return error.underlying.map { reason(for: $0, timeout: timeout) } ?? "the connection failed"
            case .sslUnsupported:
                return "the server does not accept TLS, and the URL requires it (sslmode=require)"
            case .failedToAddSSLHandler:
                return "TLS could not be set up: \(error.underlying.map { "\($0)" } ?? "unknown error")"
            case .authMechanismRequiresPassword:
                return "the server asks for a password and none was given"
            case .unsupportedAuthMechanism:
                return "the server asks for an authentication method PostgresNIO does not support"
            case .saslError:
                return "SCRAM authentication failed (\(error.underlying.map { "\($0)" } ?? "no detail"))"
            case .serverClosedConnection, .uncleanShutdown:
                return "the server closed the connection while it was being opened"
            default:
                return "\(error.code)\(error.underlying.map { ": \(reason(for: $0, timeout: timeout))" } ?? "")"
            }
        case let error as NIOConnectionError:
            if error.connectionErrors.isEmpty, let dns = error.dnsAError ?? error.dnsAAAAError {
                return "cannot resolve host \"\(error.host)\" (\(resolverMessage(dns)))"
            }
            let failures = error.connectionErrors.map { failure in
                "\(describe(failure.error, timeout: timeout)) at \(address(failure.target))"
            }
            return failures.isEmpty ? "cannot connect to \(hostAndPort(error.host, error.port))" : failures.joined(separator: "; ")
        case let error as SocketAddressError:
            switch error {
            case .unknown(let host, _): return "cannot resolve host \"\(host)\""
            case .unixDomainSocketPathTooLong: return "the socket path is too long"
            default: return "\(error)"
            }
        case let error as ChannelError:
            if case .connectTimeout = error { return "no answer within \(seconds)" }
            return "\(error)"
        case let error as IOError:
            return describe(error, timeout: timeout)
        case is ProbeTimeout, is CancellationError:
            return "no answer within \(seconds)"
        case let error as ConnectionPoolError where error == .connectionCreationCircuitBreakerTripped:
            return "the connection pool could not open a connection and stopped trying for now"
        default:
            return String(describing: error)
        }
    }

    /// The resolver's own words ("Name or service not known") out of NIO's description of a
    /// failed lookup ("SocketAddressError.UnknownHost: Name or service not known (error -2) for host …").
    static func resolverMessage(_ error: any Error) -> String {
        var text = "\(error)"
        if let start = text.range(of: "UnknownHost: ") { text = String(text[start.upperBound...]) }
        if let end = text.range(of: " (error ") ?? text.range(of: " for host ") { text = String(text[..<end.lowerBound]) }
        return text
    }

    /// "connection refused", "no such socket file", … for one failed connect.
    static func describe(_ error: any Error, timeout: Duration) -> String {
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ENOENT: return "no server socket (no such file)"
            case EACCES: return "permission denied"
            case ETIMEDOUT: return "no answer (timed out)"
            case EHOSTUNREACH: return "host unreachable"
            case ENETUNREACH: return "network unreachable"
            default: return String(cString: strerror(error.errnoCode)).lowercased()
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "no answer within \(timeout.formattedSeconds) s"
        }
        return String(describing: error)
    }

    static func address(_ address: SocketAddress) -> String {
        switch address {
        case .unixDomainSocket: return address.pathname ?? "socket"
        default:
            guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
            return hostAndPort(ip, port)
        }
    }

    static func hostAndPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// PostgresNIO keeps the client configuration's TLS mode to itself; read it (and its
    /// `TLSConfiguration`) by reflection. Disabled unless it reads "prefer" or "require".
    static func tls(of tls: PostgresClient.Configuration.TLS) throws -> PostgresConnection.Configuration.TLS {
        guard let base = Mirror(reflecting: tls).children.first(where: { $0.label == "base" })?.value,
              let mode = Mirror(reflecting: base).children.first,
              let configuration = mode.value as? TLSConfiguration else {
            return .disable
        }
        let context = try NIOSSLContext(configuration: configuration)
        switch mode.label {
        case "prefer": return .prefer(context)
        case "require": return .require(context)
        default: return .disable
        }
    }
}
