import Foundation
import Hummingbird
import Logging
import NIOCore
import OMSDomain
import OMSStore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Relays the database's announcements (channel `oms_events`, migration 0029) to this
/// instance's live-stream clients. A service of the application: it holds one pool
/// connection in LISTEN for as long as it runs, and listens again (after 1 s, then up
/// to 30 s between tries) when that connection is lost — a database restart included.
public final class LiveEventHub: Service, Sendable {
    /// One announcement: its `type` and the whole JSON payload.
    public struct Event: Sendable, Equatable {
        public var type: String
        public var json: String
    }

    static let channel = "oms_events"
    let client: PostgresClient
    let logger: Logger
    /// The API key check, whose memory the hub keeps honest (revocations, reconnections).
    public let keyCheck: KeyCheck
    private let subscribers = Mutex<[UUID: AsyncStream<Event>.Continuation]>([:])
    private let listening = Mutex(false)

    public init(client: PostgresClient, logger: Logger, keyCheck: KeyCheck) {
        self.client = client
        self.logger = logger
        self.keyCheck = keyCheck
    }

    /// How many clients are subscribed now.
    public var subscriberCount: Int { subscribers.withLock { $0.count } }
    /// Whether the LISTEN connection is up.
    public var isListening: Bool { listening.withLock { $0 } }

    /// A stream of every announcement from now on, until the caller stops reading it.
    public func subscribe() -> AsyncStream<Event> {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1000))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    func publish(_ payload: String) {
        let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any]
        let type = object?["type"] as? String ?? "message"
        // The service's own announcements: acted on here, not relayed.
        if type == "api_key.revoked" {
            if let id = (object?["key_id"] as? String).flatMap(UUID.init(uuidString:)) { keyCheck.forget(id: id) } else { keyCheck.forgetAll() }
            return
        }
        let event = Event(type: type, json: payload)
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(event) }
    }

    public func run() async throws {
        var delay = Duration.seconds(1)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // A shutdown cancels the wait for a connection too (the database may be unreachable).
                try await cancelWhenGracefulShutdown {
                    try await self.client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notifications in
                            self.listening.withLock { $0 = true }
                            // Anything announced while not listening was missed: start from the database.
                            self.keyCheck.forgetAll()
                            for try await notification in notifications {
                                self.publish(notification.payload)
                            }
                        }
                    }
                }
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                logger.warning("live events: listening failed, trying again", metadata: [
                    "error": "\(error.readableDatabaseMessage)", "retry_in": "\(delay)",
                ])
            }
            // A connection that was listening starts the backoff over.
            if listening.withLock({ let was = $0; $0 = false; return was }) { delay = .seconds(1) }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            try? await gracefulShutdown(orSleep: delay)
            delay = min(delay * 2, .seconds(30))
        }
        listening.withLock { $0 = false }
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.finish() }
    }
}

/// Sleeps for `delay`, or less if the service group starts shutting down.
private func gracefulShutdown(orSleep delay: Duration) async throws {
    try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
}

/// `GET /api/v1/stream`: Server-Sent Events of outages opened, updated, confirmed and restored,
/// and of meter status changes (scope `read`). `event:` is the announcement's type, `data:` its
/// JSON. A comment line every 15 s keeps proxies from closing an idle stream. `?max_events=N`
/// ends the stream after N events (for scripts that wait for the next change).
struct StreamController: Sendable {
    let hub: LiveEventHub
    let keys: KeyCheck

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        api.group("stream").add(middleware: RequireScope(scope: .read, keys: keys)).get { request, _ in
            let maximum = request.uri.queryParameters["max_events"].flatMap { Int(String($0)) }
            let events = hub.subscribe()
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: ": oms live events\n\n"))
                    var sent = 0
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        let (ticks, tick) = AsyncStream.makeStream(of: Void.self)
                        group.addTask {
                            while !Task.isCancelled {
                                try await Task.sleep(for: .seconds(15))
                                tick.yield()
                            }
                        }
                        // Events and keep-alive ticks, one writer.
                        let merged = AsyncStream<LiveEventHub.Event?> { continuation in
                            let forward = Task {
                                await withTaskGroup(of: Void.self) { inner in
                                    inner.addTask { for await event in events { continuation.yield(event) }; continuation.finish() }
                                    inner.addTask { for await _ in ticks { continuation.yield(nil) } }
                                }
                            }
                            continuation.onTermination = { _ in forward.cancel() }
                        }
                        for await item in merged {
                            if let event = item {
                                try await writer.write(ByteBuffer(string: "event: \(event.type)\ndata: \(event.json)\n\n"))
                                sent += 1
                                if let maximum, sent >= maximum { break }
                            } else {
                                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            }
                        }
                        tick.finish()
                        group.cancelAll()
                    }
                    try await writer.finish(nil)
                })
        }
    }
}
