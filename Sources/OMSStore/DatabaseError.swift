import NIOCore
import NIOPosix
import PostgresNIO
import _ConnectionPoolModule

extension Error {
    /// The server's own words for a failed statement (message, detail, hint and
    /// SQLSTATE), instead of PostgresNIO's deliberately generic description; for a
    /// connection that could not be made or was lost, what happened to it.
    public var readableDatabaseMessage: String {
        if let error = self as? DatabaseUnreachable { return error.description }
        if let error = self as? ConnectionPoolError {
            return error == .connectionCreationCircuitBreakerTripped
                ? "the connection pool could not open a connection to the database and stopped trying for now (connectionCreationCircuitBreakerTripped)"
                : String(describing: error)
        }
        guard let error = self as? PSQLError else { return String(describing: self) }
        guard let server = error.serverInfo, let message = server[.message] else {
            guard let underlying = error.underlying else { return "\(error.code)" }
            return "\(error.code): \(DatabaseProbe.reason(for: underlying, timeout: .seconds(10)))"
        }
        var text = message
        if let detail = server[.detail] { text += " (\(detail))" }
        if let hint = server[.hint] { text += "; hint: \(hint)" }
        if let state = server[.sqlState] { text += " [SQLSTATE \(state)]" }
        return text
    }

    /// The SQLSTATE of a failed statement, if the server sent one (e.g. "23514" for a check violation).
    public var databaseSQLState: String? {
        (self as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// Whether this error says the database could not be reached or used at all (so that trying
    /// again later may work), rather than that a statement failed: a connection that could not
    /// be opened or was lost, a server shutting down or starting up, too many connections, a
    /// refused login, a database that does not exist, the pool giving up.
    public var isDatabaseConnectionFailure: Bool {
        switch self {
        case is DatabaseUnreachable, is NIOConnectionError, is SocketAddressError:
            return true
        case let error as ConnectionPoolError:
            return error == .connectionCreationCircuitBreakerTripped || error == .poolShutdown
        case let error as ChannelError:
            if case .connectTimeout = error { return true }
            return error == .ioOnClosedChannel || error == .alreadyClosed || error == .eof
        case let error as PSQLError:
            if let state = error.serverInfo?[.sqlState] {
                return state.hasPrefix("08")  // connection exception
                    || ["57P01", "57P02", "57P03", "53300", "3D000", "28000", "28P01"].contains(state)
            }
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
                 .sslUnsupported, .failedToAddSSLHandler, .authMechanismRequiresPassword, .unsupportedAuthMechanism,
                 .saslError, .receivedUnencryptedDataAfterSSLRequest:
                return true
            default:
                return error.underlying?.isDatabaseConnectionFailure ?? false
            }
        default:
            return false
        }
    }
}
