import Foundation
import Logging
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
        case signedOut = "signed_out"
        case shuttingDown = "shutting_down"

        /// A sentence for the client and the log.
        public var explanation: String {
            switch self {
            case .slowClient: "the client did not read its events as fast as they came (its buffer was full)"
            case .keyRevoked: "the API key of this stream was revoked"
            case .signedOut: "the console session of this stream was signed out"
            case .shuttingDown: "the service is stopping"
            }
        }
    }

    /// One client's subscription: its bounded buffer, the key it was opened with, why it ended.
    public final class Subscription: Sendable {
        public let id = UUID()
        /// The API key the stream was opened with (nil: not tied to a key).
        public let keyID: UUID?
        /// The console session it was opened with (nil: a key's own stream).
        public let sessionID: UUID?
        let continuation: AsyncStream<Item>.Continuation
        private let endReason = Mutex<EndReason?>(nil)
        private let onEnd = Mutex<(@Sendable (EndReason) -> Void)?>(nil)

        init(keyID: UUID?, sessionID: UUID?, continuation: AsyncStream<Item>.Continuation) {
            self.keyID = keyID
            self.sessionID = sessionID
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
    public func subscribe(keyID: UUID? = nil, sessionID: UUID? = nil) -> (AsyncStream<Item>, Subscription) {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let subscription = Subscription(keyID: keyID, sessionID: sessionID, continuation: continuation)
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
        if type == "console_session.ended" {
            if let id = (object?["session_id"] as? String).flatMap(UUID.init(uuidString:)) {
                keyCheck.forget(sessionID: id)
                for subscription in subscribers.withLock({ Array($0.values) }) where subscription.sessionID == id {
                    end(subscription, .signedOut)
                }
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
