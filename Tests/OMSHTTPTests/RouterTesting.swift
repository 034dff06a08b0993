import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import Logging
import NIOCore
import OMSTestSupport
import ServiceLifecycle
import Testing

/// An application as HummingbirdTesting's router framework sees it, without its services: they
/// run in `withRouterApp`'s own service group instead.
struct WithoutServices<Base: ApplicationProtocol>: ApplicationProtocol {
    typealias Responder = Base.Responder
    let base: Base

    var responder: Base.Responder { get async throws { try await base.responder } }
    var server: HTTPServerBuilder { base.server }
    var configuration: ApplicationConfiguration { base.configuration }
    var logger: Logger { base.logger }
    @Sendable func onServerRunning(_ channel: any Channel) async { await base.onServerRunning(channel) }
    var processesRunBeforeServerStart: [@Sendable () async throws -> Void] { base.processesRunBeforeServerStart }
}

/// `withRouterApp(app, body)` with the application's services (its PostgreSQL client, the live
/// events, the database gate, the sweeper, the partition keeper) run in a service group that traps
/// no signals. HummingbirdTesting's own group traps SIGTERM and SIGINT: every router test registers
/// signal sources (and awaits their registration) while dozens run at once in one process. Router
/// tests built this way (SCADA routes twice on 2026-12-05, the failed-key limit in earlier CI runs)
/// hung for good with no thread busy, no timer pending and no database session open, as if the
/// services had never started; tests have no signals to trap, so they no longer register any.
/// The shutdown is bounded all the same (`endsAfterShutdown`): one more hang was seen after this.
func withRouterApp<App: ApplicationProtocol, Value>(
    _ app: App, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Value
) async throws -> Value {
    let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
    let group = ServiceGroup(configuration: .init(
        services: app.services + [StartedSignal(continuation: startedContinuation)],
        gracefulShutdownSignals: [], cancellationSignals: [], logger: TestDatabase.logger))
    let running = Task {
        // However the group ends, nobody waits for its start any longer.
        defer { startedContinuation.finish() }
        try await group.run()
    }
    // The services are running (or the group ended, and the test fails on its own terms).
    await started.first { _ in true }
    return try await shuttingDownAfter(group, running) { try await WithoutServices(base: app).test(.router, body) }
}

/// The last service of `withRouterApp`'s group: says the group has started all its services.
private struct StartedSignal: Service {
    let continuation: AsyncStream<Void>.Continuation

    func run() async throws {
        continuation.finish()
        try? await gracefulShutdown()
    }
}

/// A HummingbirdTesting client connected to `port` on this machine (reads wait up to 60 s); a
/// connection that times out (its fixed 5 s) is tried again with a new client until `limit` has passed.
private func connectedTestClient(port: Int, within limit: Duration) async throws -> TestClient {
    let deadline = ContinuousClock.now + limit
    while true {
        let client = TestClient(host: "localhost", port: port, configuration: .init(timeout: .seconds(60)))
        client.connect()
        do {
            _ = try await client.getChannel()
            return client
        } catch {
            try? await client.shutdown()
            guard case ChannelError.connectTimeout = error, ContinuousClock.now < deadline else { throw error }
        }
    }
}

/// A response of `withLiveClient`'s client.
struct LiveResponse: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer
}

/// HTTP/1.1 to the application `withLiveClient` runs on a port of 127.0.0.1.
struct LiveClient: Sendable {
    let client: TestClient
    let port: Int

    /// Sends one request and hands its response to `check`.
    func execute<T>(
        uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
        _ check: (LiveResponse) async throws -> T
    ) async throws -> T {
        var headers = headers
        headers[.connection] = "keep-alive"
        let response = try await client.execute(TestClient.Request(uri, method: method, authority: "localhost", headers: headers, body: body))
        return try await check(LiveResponse(status: response.head.status, headers: response.head.headerFields, body: response.body ?? ByteBuffer()))
    }
}

/// HummingbirdTesting's `.live` framework without its signal trapping (see `withRouterApp`): the
/// application `makeApp` builds runs as `runLiveApp` runs it, and `body` talks to it over HTTP/1.1.
///
/// A request waits up to 60 s for its answer (HummingbirdTesting's own default is 20 s). At the
/// full suite's peak on two cores every step takes many times longer than alone: importing two
/// CSV rows took 13.9 s there, and two tests that send thousands of requests one after another
/// (the HTTP fuzz test, the key rate limit) each had one request cut off at 20 s in a full local
/// run, while alone beside three busy loops none of the fuzz test's 8,000 took over 0.3 s. A hung
/// request still fails the test, a minute later. Connecting gets the same minute: HummingbirdTesting's
/// client gives up on a connection after 5 s, which the HTTP fuzz test's SCADA case once took at that
/// peak, so a connection that times out is tried again, with a new client, for up to 60 s.
func withLiveClient<App: ApplicationProtocol, Value: Sendable>(
    _ makeApp: (_ onServerRunning: @escaping @Sendable (Int) async -> Void) throws -> App,
    _ body: @escaping @Sendable (LiveClient) async throws -> Value
) async throws -> Value {
    try await runLiveApp(makeApp) { port in
        let client = try await connectedTestClient(port: port, within: .seconds(60))
        do {
            let value = try await body(LiveClient(client: client, port: port))
            try await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
