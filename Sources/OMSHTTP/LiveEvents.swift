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
///
/// Each client's memory is bounded: its events wait in a buffer of `bufferLimit`, and a client
/// that lets the buffer fill (it stops reading, or reads slower than events come) is ended
/// with the reason logged; a client whose API key is revoked is ended at once.
public final class LiveEventHub: Service, Sendable {
    /// One announcement: its `type` and the whole JSON payload.
    public struct Event: Sendable, Equatable {
        public var type: String
        public var json: String
    }

    /// What a subscriber receives: an announcement, or a tick to keep an idle connection open.
    public enum Item: Sendable, Equatable {
        case event(Event)
        case keepAlive
    }

    /// Why the service ended a subscription.
    public enum EndReason: String, Sendable {
        case slowClient = "slow_client"
        case keyRevoked = "key_revoked"
        case shuttingDown = "shutting_down"

        /// A sentence for the client and the log.
        public var explanation: String {
            switch self {
            case .slowClient: "the client did not read its events as fast as they came (its buffer was full)"
            case .keyRevoked: "the API key of this stream was revoked"
            case .shuttingDown: "the service is stopping"
            }
        }
    }

    /// One client's subscription: its bounded buffer, the key it was opened with, why it ended.
    public final class Subscription: Sendable {
        public let id = UUID()
        /// The API key the stream was opened with (nil: not tied to a key).
        public let keyID: UUID?
        let continuation: AsyncStream<Item>.Continuation
        private let endReason = Mutex<EndReason?>(nil)
        private let onEnd = Mutex<(@Sendable (EndReason) -> Void)?>(nil)

        init(keyID: UUID?, continuation: AsyncStream<Item>.Continuation) {
            self.keyID = keyID
            self.continuation = continuation
        }

        /// Why the service ended it; nil while it runs or when the client left.
        public var reason: EndReason? { endReason.withLock { $0 } }

        /// Called once, when the service ends the subscription (not when the client leaves).
        public func whenEnded(_ action: @escaping @Sendable (EndReason) -> Void) {
            onEnd.withLock { $0 = action }
        }

        /// Queues an item; false when the buffer was full (the item is dropped).
        func offer(_ item: Item) -> Bool {
            if case .dropped = continuation.yield(item) { return false }
            return true
        }

        /// Ends the subscription for `reason` (the first reason wins).
        func end(_ reason: EndReason) {
            let first = endReason.withLock { current -> Bool in
                guard current == nil else { return false }
                current = reason
                return true
            }
            guard first else { return }
            continuation.finish()
            onEnd.withLock { $0 }?(reason)
        }
    }

    static let channel = "oms_events"
    let client: PostgresClient
    let logger: Logger
    /// The API key check, whose memory the hub keeps honest (revocations, reconnections).
    public let keyCheck: KeyCheck
    /// How many events may wait for one client before it is ended as too slow.
    public let bufferLimit: Int
    private let subscribers = Mutex<[UUID: Subscription]>([:])
    private let listening = Mutex(false)

    public init(client: PostgresClient, logger: Logger, keyCheck: KeyCheck, bufferLimit: Int = 1000) {
        self.client = client
        self.logger = logger
        self.keyCheck = keyCheck
        self.bufferLimit = max(1, bufferLimit)
    }

    /// How many clients are subscribed now.
    public var subscriberCount: Int { subscribers.withLock { $0.count } }
    /// Whether the LISTEN connection is up.
    public var isListening: Bool { listening.withLock { $0 } }

    /// Every announcement from now on, until the caller stops reading or the service ends the
    /// subscription (see `Subscription.reason`).
    public func subscribe(keyID: UUID? = nil) -> (AsyncStream<Item>, Subscription) {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let subscription = Subscription(keyID: keyID, continuation: continuation)
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: subscription.id) }
        }
        subscribers.withLock { $0[subscription.id] = subscription }
        return (stream, subscription)
    }

    /// Queues an item for one subscriber; a full buffer ends the subscription (too slow a client).
    public func deliver(_ item: Item, to subscription: Subscription) {
        if !subscription.offer(item) { end(subscription, .slowClient) }
    }

    /// Ends a subscription and says so in the log.
    func end(_ subscription: Subscription, _ reason: EndReason) {
        guard subscription.reason == nil else { return }
        subscription.end(reason)
        logger.notice("live events: stream ended by the service", metadata: [
            "stream": "\(subscription.id)", "reason": "\(reason.rawValue)", "api_key": "\(subscription.keyID.map { "\($0)" } ?? "-")",
            "buffer_limit": "\(bufferLimit)",
        ])
    }

    func publish(_ payload: String) {
        let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any]
        let type = object?["type"] as? String ?? "message"
        // The service's own announcements: acted on here, not relayed.
        if type == "api_key.revoked" {
            if let id = (object?["key_id"] as? String).flatMap(UUID.init(uuidString:)) {
                keyCheck.forget(id: id)
                for subscription in subscribers.withLock({ Array($0.values) }) where subscription.keyID == id {
                    end(subscription, .keyRevoked)
                }
            } else {
                keyCheck.forgetAll()
            }
            return
        }
        let event = Event(type: type, json: payload)
        for subscription in subscribers.withLock({ Array($0.values) }) { deliver(.event(event), to: subscription) }
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
        for subscription in subscribers.withLock({ Array($0.values) }) { subscription.end(.shuttingDown) }
    }
}

/// Sleeps for `delay`, or less if the service group starts shutting down.
private func gracefulShutdown(orSleep delay: Duration) async throws {
    try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
}

/// A request context that can close the connection its request came on: a stream whose client
/// stopped reading is ended by closing its connection, since a write to it would never finish.
public protocol ConnectionClosingContext: RequestContext {
    /// Closes the request's connection (nothing when there is none, e.g. in router tests).
    func closeConnection()
    /// Ends the request's connection a moment after its answer, so that the rest of a refused
    /// body is not read.
    func stopReading()
}

/// `GET /api/v1/stream`: Server-Sent Events of outages opened, updated, confirmed and restored,
/// and of meter status changes (scope `read`). `event:` is the announcement's type, `data:` its
/// JSON. A comment line every 15 s keeps proxies from closing an idle stream; at each, the
/// stream's API key is checked again (a revocation announced by the database ends it at once).
/// `?max_events=N` (1 to 1,000,000) ends the stream after N events (for scripts that wait for
/// the next change). When the service ends a stream (the client read too slowly and its buffer
/// filled, its key was revoked, the service is stopping) it sends `event: stream.closed` with
/// the reason, and closes the connection if the client does not take even that.
struct StreamController: Sendable {
    let hub: LiveEventHub
    let keys: KeyCheck
    /// How often a keep-alive comment is sent and the key checked again.
    var keepAliveInterval = Duration.seconds(15)
    /// How long a stream ended by the service may take to say so before its connection is closed.
    var closeGrace = Duration.seconds(5)
    /// The most events `max_events` may ask for.
    static let maximumEventsLimit = 1_000_000

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        api.group("stream").add(middleware: RequireScope(scope: .read, keys: keys, guardsDatabaseWork: false)).get { request, context in
            let maximum = try Self.maximumEvents(request)
            let keyText = Self.bearerKey(request)
            let key = try await keyText.asyncFlatMap { try await keys.authenticate($0) }
            let (items, subscription) = hub.subscribe(keyID: key?.id)
            if let closing = context as? any ConnectionClosingContext {
                let grace = closeGrace
                subscription.whenEnded { _ in
                    Task {
                        try? await Task.sleep(for: grace)
                        closing.closeConnection()
                    }
                }
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { [hub, keys, keepAliveInterval] writer in
                    try await writer.write(ByteBuffer(string: ": oms live events\n\n"))
                    // Keep-alive ticks go through the same bounded buffer as the events, and each
                    // checks the key again (revocations missed while the hub was not listening).
                    let ticker = Task {
                        while !Task.isCancelled {
                            try await Task.sleep(for: keepAliveInterval)
                            if let keyText, let stillValid = try? await keys.authenticate(keyText), stillValid == nil {
                                hub.end(subscription, .keyRevoked)
                                return
                            }
                            hub.deliver(.keepAlive, to: subscription)
                        }
                    }
                    defer { ticker.cancel() }
                    var sent = 0
                    for await item in items {
                        switch item {
                        case .event(let event):
                            try await writer.write(ByteBuffer(string: "event: \(event.type)\ndata: \(event.json)\n\n"))
                            sent += 1
                        case .keepAlive:
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                        if let maximum, sent >= maximum { break }
                    }
                    if let reason = subscription.reason {
                        let data = String(decoding: try JSONEncoder().encode(StreamClosed(reason)), as: UTF8.self)
                        try await writer.write(ByteBuffer(string: "event: stream.closed\ndata: \(data)\n\n"))
                    }
                    try await writer.finish(nil)
                })
        }
    }

    /// `max_events`: nil when absent, else a whole number from 1 to `maximumEventsLimit`.
    static func maximumEvents(_ request: Request) throws -> Int? {
        let values = request.uri.queryParameters.getAll("max_events")
        guard let text = values.first else { return nil }
        guard values.count == 1, let value = Int(text), (1...maximumEventsLimit).contains(value) else {
            throw InvalidInput("max_events", "\(values.joined(separator: ",")) is not a number of events from 1 to \(maximumEventsLimit)")
        }
        return value
    }

    /// The API key of `Authorization: Bearer KEY` (RequireScope has already accepted it).
    static func bearerKey(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}

extension Optional {
    /// `flatMap` with an asynchronous, throwing transform.
    func asyncFlatMap<Mapped>(_ transform: (Wrapped) async throws -> Mapped?) async rethrows -> Mapped? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
