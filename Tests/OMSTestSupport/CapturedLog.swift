import Logging
import Synchronization

/// Log records kept in memory, for tests that check what the service logs.
public final class CapturedLog: Sendable {
    /// One record: its level, message and metadata (the logger's and the call's).
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: Logger.Metadata

        /// "LEVEL message key=value …", metadata sorted by key.
        public var line: String {
            "\(level) \(message) " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    /// Every record so far, oldest first.
    public var records: [Entry] { entries.withLock { $0 } }
    /// Every record as a line ("LEVEL message key=value …").
    public var lines: [String] { records.map(\.line) }

    /// A logger writing here at `level` and above.
    public func logger(level: Logger.Level = .notice, label: String = "oms-tests-captured") -> Logger {
        var logger = Logger(label: label) { _ in Handler(log: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.append(Entry(
                level: event.level, message: event.message.description,
                metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }
}
