import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import OMSHTTP
import PostgresNIO
import ServiceLifecycle

/// The HTTP application on a free local port, for the benchmarks.
enum LocalServer {
    /// Runs `body` with the server's base URL and an HTTP client; stops both afterwards.
    static func with<T: Sendable>(
        configuration: PostgresClient.Configuration, logger: Logger,
        _ body: @escaping @Sendable (String, HTTPClient) async throws -> T
    ) async throws -> T {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let appClient = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let app = try buildApplication(
            client: appClient, settings: ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false),
            logger: logger, onServerRunning: { port in portContinuation.yield(port) })
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
                    let result = try await body("http://127.0.0.1:\(port)", http)
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
    static func send(_ method: HTTPMethod, _ url: String, body: String? = nil, with http: HTTPClient) async throws
        -> ByteBuffer
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
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
