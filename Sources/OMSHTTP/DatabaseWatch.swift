import Logging
import OMSStore
import PostgresNIO
import Synchronization

/// What the service knows of its database beyond the pool: how to try one connection outside
/// it (`DatabaseProbe`, for the reason in the server's words) and whether the pool itself is
/// failing to open connections. Give the pool `poolLogger(wrapping:)` as its background logger:
///
///     let watch = DatabaseWatch(configuration: configuration)
///     let client = PostgresClient(configuration: configuration, backgroundLogger: watch.poolLogger(wrapping: logger))
///     let app = try buildApplication(client: client, ..., watch: watch)
///
/// Without a watch the gate asks the pool itself (`SELECT 1` within the probe timeout): only a
/// connection failure counts as unreachable (a slow answer may be a busy pool), and it cannot say why.
public final class DatabaseWatch: Sendable {
    let probe: DatabaseProbe?
    private let poolFailed = Mutex(false)
    private let listener = Mutex<(@Sendable () -> Void)?>(nil)

    public init(configuration: PostgresClient.Configuration) {
        probe = try? DatabaseProbe(configuration)
    }

    /// The pool failed to open a connection since the gate last saw it hand one out. (PostgresNIO
    /// logs a failure, not a success: the gate learns of the recovery by asking the pool.)
    var poolFailedSinceLastUse: Bool { poolFailed.withLock { $0 } }

    /// The gate saw the pool hand out a connection.
    func poolWorks() {
        poolFailed.withLock { $0 = false }
    }

    func onPoolFailure(_ listener: @escaping @Sendable () -> Void) {
        self.listener.withLock { $0 = listener }
    }

    /// A logger for the pool (`PostgresClient(backgroundLogger:)`) that tells the watch when a
    /// connection fails to open, and passes on every line `logger` would write.
    public func poolLogger(wrapping logger: Logger) -> Logger {
        var watching = Logger(label: logger.label) { _ in PoolWatchLogHandler(inner: logger, watch: self) }
        watching.logLevel = min(logger.logLevel, .info)
        return watching
    }

    fileprivate func poolConnectionFailed() {
        poolFailed.withLock { $0 = true }
        listener.withLock { $0 }?()
    }
}

/// Watches PostgresNIO's pool log lines for "Connection creation failed" (info).
struct PoolWatchLogHandler: LogHandler {
    let inner: Logger
    let watch: DatabaseWatch
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        if event.level == .info && "\(event.message)" == "Connection creation failed" { watch.poolConnectionFailed() }
        guard event.level >= inner.logLevel else { return }
        inner.log(
            level: event.level, event.message, metadata: metadata.merging(event.metadata ?? [:]) { _, new in new },
            source: event.source, file: event.file, function: event.function, line: event.line)
    }
}
