import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OMSTestSupport
import Synchronization

@testable import OMSStore

#if canImport(Glibc)
import Glibc
#endif

/// `oms serve` as a child process of the test, started from the binary built with the tests: for
/// the faults a service inside the test's own process cannot suffer (kill -9, a restart during a
/// replay, two instances on one database).
struct ServeProcess: Sendable {
    /// Why a child service did not come up.
    struct NotReady: Error, CustomStringConvertible {
        let reason: String
        let log: String
        var description: String { "oms serve \(reason); its log ends:\n\(log.suffix(3000))" }
    }

    let pid: pid_t
    let port: Int
    let logFile: String
    /// What it was started with (to start it again).
    let databaseURL: String
    let arguments: [String]
    /// Its exit status once reaped: its pid may then belong to another process, or to a thread of
    /// this one (thread ids share the pid space), and is never signalled again.
    private let reaped = Reaped()
    var base: String { "http://127.0.0.1:\(port)" }

    /// The exit status of a reaped child, shared by the copies of one `ServeProcess`.
    private final class Reaped: Sendable {
        let status = Mutex<Int32?>(nil)
    }

    /// The `oms` binary next to the test bundle (`swift build --build-tests` builds both).
    static func binary() throws -> String {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let oms = bundle.appendingPathComponent("oms").path
        guard FileManager.default.isExecutableFile(atPath: oms) else {
            throw NotReady(reason: "is not built: no executable at \(oms) (run swift build --build-tests)", log: "")
        }
        return oms
    }

    /// Starts `oms serve` on 127.0.0.1:`port` and waits until `/ready` answers 200. Connection
    /// attempts may take 30 s (a loaded machine) unless `arguments` say otherwise.
    static func start(databaseURL: String, port: Int, logFile: String, arguments: [String] = []) async throws -> ServeProcess {
        let pid = try ChildProcess.spawn(
            try binary(),
            ["serve", "--database-url", databaseURL, "--host", "127.0.0.1", "--port", "\(port)"]
                + (arguments.contains("--connect-timeout") ? [] : ["--connect-timeout", "30"]) + arguments,
            outputFile: logFile)
        let process = ServeProcess(pid: pid, port: port, logFile: logFile, databaseURL: databaseURL, arguments: arguments)
        do {
            try await process.waitUntilReady()
        } catch {
            await process.kill9()
            throw error
        }
        return process
    }

    /// Polls `/ready` until it answers 200 (a loaded 2-core machine: up to two minutes).
    func waitUntilReady(within limit: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            guard ChildProcess.isAlive(pid) else { throw NotReady(reason: "exited", log: log) }
            if (try? await status(of: "/ready")) == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw NotReady(reason: "was not ready within \(limit)", log: log)
    }

    /// The status of a GET (no key), within 10 s.
    func status(of path: String) async throws -> Int {
        var request = HTTPClientRequest(url: base + path)
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// What the service wrote so far (stdout and stderr).
    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Whether the process is still running (it has not exited, crashed or been killed).
    var isRunning: Bool { reaped.status.withLock { $0 } == nil && ChildProcess.isAlive(pid) }

    /// `kill -9`: no graceful stop, requests in flight lose their answers.
    func kill9() async {
        guard reaped.status.withLock({ $0 }) == nil else { return }
        kill(pid, SIGKILL)
        let status = await ChildProcess.waitForExitWithoutBlocking(pid)
        reaped.status.withLock { $0 = status }
    }

    /// SIGTERM, a graceful stop; SIGKILL after `limit`. The exit status.
    @discardableResult
    func stop(within limit: Duration = .seconds(30)) async -> Int32 {
        if let status = reaped.status.withLock({ $0 }) { return status }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let status = ChildProcess.exitStatusIfExited(pid) {
                reaped.status.withLock { $0 = status }
                return status
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(pid, SIGKILL)
        let status = await ChildProcess.waitForExitWithoutBlocking(pid)
        reaped.status.withLock { $0 = status }
        return status
    }
}
