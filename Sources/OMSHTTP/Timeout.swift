import Synchronization

/// Runs `operation`, giving up after `seconds` with `TimeoutError`.
///
/// On timeout the operation is cancelled but not waited for: one that does not honour
/// cancellation (a request queued in a connection pool that cannot reach its database) must not
/// hold its caller past the limit, which a task group would do (it waits for every child).
func withTimeout<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = FirstOutcome<T>()
    let work = Task { try await operation() }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            outcome.wait(continuation)
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                if outcome.resume(with: .failure(TimeoutError())) { work.cancel() }
            }
            Task {
                let result = await work.result
                outcome.resume(with: result)
                timer.cancel()
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// The continuation of `withTimeout` (and `DatabaseGate.guardedInBackground`), resumed once: by
/// the operation or by the timer (the watch), whichever comes first.
final class FirstOutcome<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    /// Resumes the caller with `result` unless it was resumed already; whether it did.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        guard let continuation = continuation.withLock({ stored -> CheckedContinuation<T, any Error>? in
            defer { stored = nil }
            return stored
        }) else { return false }
        continuation.resume(with: result)
        return true
    }
}
