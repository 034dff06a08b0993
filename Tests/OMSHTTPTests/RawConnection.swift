import Foundation
import Hummingbird
import OMSHTTP
import OMSTestSupport
import PostgresNIO
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to the service that does exactly what a test says, byte by byte: send half
/// a request, trickle a body, stop reading. Reads wait with `poll`, in slices, so a test never
/// blocks a thread for long.
final class RawConnection: @unchecked Sendable {
    private let descriptor: Int32

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawConnectionError("socket: \(errno)") }
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw RawConnectionError("connect: \(errno)")
        }
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw RawConnectionError("send: \(errno)") }
            offset += sent
        }
    }

    /// What arrives within `timeout`, until the server closes the connection (`closed`) or
    /// `until` is satisfied by what was read so far.
    func read(timeout: Duration, until: (String) -> Bool = { _ in false }) async throws -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            // Never block a thread of the shared pool: look, and if nothing is there, sleep.
            var polled = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&polled, 1, 0)
            if ready > 0 {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return (String(decoding: received, as: UTF8.self), true) }
                received += buffer[0..<count]
                if until(String(decoding: received, as: UTF8.self)) { return (String(decoding: received, as: UTF8.self), false) }
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return (String(decoding: received, as: UTF8.self), false)
    }
}

struct RawConnectionError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs the application on a real socket (port 0) for `body`, then stops it; over TLS with `tls`.
func withLiveApp<Value: Sendable>(
    _ database: TestDatabase.Handle, settings: ServerSettings = ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false),
    tls: TLSCertificates? = nil,
    _ body: @escaping @Sendable (_ port: Int) async throws -> Value
) async throws -> Value {
    let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
    return try await runLiveApp({
        try buildApplication(client: client, settings: settings, logger: TestDatabase.logger, tls: tls, onServerRunning: $0)
    }, body)
}

/// Runs the application `makeApp` builds (listening on port 0, calling the hook it is given with the
/// port it got) in a service group that traps no signals, for `body`, then stops it.
func runLiveApp<App: ApplicationProtocol, Value: Sendable>(
    _ makeApp: (_ onServerRunning: @escaping @Sendable (Int) async -> Void) throws -> App,
    _ body: @escaping @Sendable (_ port: Int) async throws -> Value
) async throws -> Value {
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = try makeApp { portContinuation.yield($0) }
    let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: TestDatabase.logger))
    let running = Task {
        defer { portContinuation.finish() }
        try await group.run()
    }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else {
        try await running.value
        throw RawConnectionError("the server did not start")
    }
    return try await shuttingDownAfter(group, running) { try await body(port) }
}

/// Runs `body`, then shuts `group` (run by `running`) down gracefully and waits for it to end
/// (`endsAfterShutdown`), whether `body` returned or threw.
func shuttingDownAfter<Value>(
    _ group: ServiceGroup, _ running: Task<Void, any Error>, _ body: () async throws -> Value
) async throws -> Value {
    do {
        let value = try await body()
        await group.triggerGracefulShutdown()
        _ = try await endsAfterShutdown(running)
        return value
    } catch {
        await group.triggerGracefulShutdown()
        _ = try? await endsAfterShutdown(running)
        throw error
    }
}

/// Waits for a service group told to shut down gracefully to end, and answers whether it ended by
/// itself (its error, if any, thrown). One still running after `limit` is cancelled (and, if even
/// that does not end it within 30 s, left behind) and recorded as a warning, not left to hang the
/// suite: in full runs on 2 cores, a router or live-app test
/// sometimes never finished its shutdown (KeyRateLimitTests and SCADARouteTests, three times on
/// 2026-12-05 before the signal-free groups, once after, with the hub's LISTEN session still
/// open); not reproduced alone (8 runs), cause not found. The test's own expectations stand.
func endsAfterShutdown(
    _ running: Task<Void, any Error>, within limit: Duration = .seconds(60),
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> Bool {
    if await waitForEnd(of: running, within: limit) {
        try await running.value
        return true
    }
    running.cancel()
    let ended = await waitForEnd(of: running, within: .seconds(30))
    Issue.record(
        ended ? "the application's graceful shutdown did not end within \(limit): cancelled"
              : "the application's graceful shutdown did not end within \(limit), nor 30 s after its cancellation: left behind",
        severity: .warning, sourceLocation: sourceLocation)
    return false
}

/// The resident memory of this process (the server runs in it), in MiB.
func residentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
    return kib / 1024
}

/// Waits until the service's live-event hub has its LISTEN connection in this database: what is
/// announced before then reaches no stream (a stream catches a revocation it missed at its next
/// keep-alive, 15 s later).
func untilTheHubListens(_ database: TestDatabase.Handle, within limit: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        let listening = try await database.client.scalar("""
            SELECT count(*)::int FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'
            """, as: Int.self)
        if listening > 0 { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw RawConnectionError("the live-event hub did not listen within \(limit)")
}
