import Logging
import Synchronization

/// The process-wide log handler, chosen by the first command that logs (swift-log allows one bootstrap).
enum LoggingSetup {
    private static let bootstrapped = Mutex(false)

    static func bootstrapOnce(format: LogFormat) {
        bootstrapped.withLock { done in
            guard !done else { return }
            LoggingSystem.bootstrap { label in
                switch format {
                case .text: StreamLogHandler.standardError(label: label)
                case .json: JSONLogHandler(label: label)
                }
            }
            done = true
        }
    }
}
