import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import OMSDomain
import OMSHTTP
import OMSStore
import PostgresNIO
import ServiceLifecycle

/// The HTTP application on a free local port, for the benchmarks.
enum LocalServer {
    /// The running server as the benchmarks call it.
    struct Endpoint: Sendable {
        /// http://127.0.0.1:PORT
        let base: String
        let http: HTTPClient
        /// An admin key made for this run (revoked when it ends).
        let key: String

        /// One request to `path`; the body of a 2xx answer, else an error with the answer.
        func send(
            _ method: HTTPMethod, _ path: String, body: String? = nil, contentType: String = "application/json",
            headers: [(String, String)] = []
        ) async throws -> ByteBuffer {
            try await LocalServer.send(
                method, base + path, body: body, contentType: contentType, headers: headers, key: key, with: http)
        }
    }

    /// Runs `body` with the server, an HTTP client and an admin API key; stops the
    /// server and revokes the key afterwards.
    static func with<T: Sendable>(
        configuration: PostgresClient.Configuration, logger: Logger,
        meterFeeds: ServerSettings.MeterFeedApplication = .adaptive,
        _ body: @escaping @Sendable (Endpoint) async throws -> T
    ) async throws -> T {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let watch = DatabaseWatch(configuration: configuration)
        let appClient = PostgresClient(configuration: configuration, backgroundLogger: watch.poolLogger(wrapping: logger))
        var settings = ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false)
        settings.meterFeedApplication = meterFeeds
        let app = try buildApplication(
            client: appClient, settings: settings,
            logger: logger, watch: watch, onServerRunning: { port in portContinuation.yield(port) })
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        // Stopped by a graceful shutdown, not by cancellation (which the server logs as errors).
        let services = ServiceGroup(configuration: .init(services: [app], logger: logger))
        do {
            let result = try await withThrowingTaskGroup(of: T?.self) { group -> T? in
                group.addTask {
                    try await services.run()
                    return nil
                }
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next() else { return nil }
                do {
                    let keys = APIKeyStore(client: appClient, logger: logger)
                    let (keyID, key) = try await keys.create(scopes: [.admin], name: "oms bench")
                    let result = try await body(Endpoint(base: "http://127.0.0.1:\(port)", http: http, key: key))
                    _ = try await keys.revoke(id: keyID)
                    await services.triggerGracefulShutdown()
                    return result
                } catch {
                    await services.triggerGracefulShutdown()
                    throw error
                }
            }
            try await http.shutdown()
            guard let result else { throw HTTPBenchError(path: "/", status: 0, body: "the server did not start") }
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// One request; the body of a 2xx answer, else an error with the answer.
    static func send(
        _ method: HTTPMethod, _ url: String, body: String? = nil, contentType: String = "application/json",
        headers: [(String, String)] = [], key: String, with http: HTTPClient
    ) async throws -> ByteBuffer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(contentsOf: headers)
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(300))
        let buffer = try await response.body.collect(upTo: 256 * 1024 * 1024)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw HTTPBenchError(path: url, status: Int(response.status.code), body: String(buffer: buffer))
        }
        return buffer
    }
}
