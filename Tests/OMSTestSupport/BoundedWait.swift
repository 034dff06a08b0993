import Foundation
import Synchronization

/// Waits for `task` to end, at most `limit`; answers whether it ended. A task that has not ended
/// by then is left to itself (nothing waits for it any longer), so that a test can go on: awaiting
/// a task's value does not end on cancellation, and a structured wait would hold the caller for as
/// long as the task runs.
public func waitForEnd<Success: Sendable, Failure: Error>(
    of task: Task<Success, Failure>, within limit: Duration
) async -> Bool {
    await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let answer = FirstAnswer(continuation)
        Task {
            _ = await task.result
            answer.give(true)
        }
        Task {
            try? await Task.sleep(for: limit)
            answer.give(false)
        }
    }
}

/// Resumes a continuation with the first answer given; later ones are dropped.
private final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    func give(_ answer: Bool) {
        continuation.withLock { waiting in
            waiting?.resume(returning: answer)
            waiting = nil
        }
    }
}
