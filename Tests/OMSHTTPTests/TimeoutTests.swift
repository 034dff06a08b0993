import Foundation
import Testing

@testable import OMSHTTP

/// `withTimeout`: the service's bound on waiting for the database (the gate's probe, `/ready`).
@Suite("withTimeout: on time, even when the operation ignores cancellation")
struct TimeoutTests {
    /// Sleeps `seconds` whatever happens to the caller: a detached task does not inherit its
    /// cancellation (like a request queued in a pool that cannot reach its database).
    static func ignoringCancellation(_ seconds: Double) async -> String {
        await Task.detached { try? await Task.sleep(for: .milliseconds(Int(seconds * 1000))); return "late" }.value
    }

    @Test("an operation that ignores cancellation does not hold its caller past the limit")
    func givesUpOnTime() async throws {
        let start = ContinuousClock.now
        await #expect(throws: TimeoutError.self) {
            try await withTimeout(seconds: 0.2) { await Self.ignoringCancellation(300) }
        }
        // Waiting for the operation would take 300 s; a loaded 2-core machine took 18 s to give up.
        #expect(ContinuousClock.now - start < .seconds(120))
    }

    @Test("an answer within the limit is returned, and an error is the operation's own")
    func answersAndErrors() async throws {
        // (A limit far above the operation's 50 ms: a full run on 2 cores, its cooperative threads busy
        // fuzzing the decoders, once took more than 5 s to run the detached sleep at all.)
        #expect(try await withTimeout(seconds: 60) { await Self.ignoringCancellation(0.05) } == "late")
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await withTimeout(seconds: 5) { () async throws -> Int in throw Refused() }
        }
    }
}
