import Foundation
import Hummingbird
import NIOCore
import OMSDomain
import OMSStore

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
            let credential = try? Credential.of(request)
            let key = try await credential.asyncFlatMap { try await keys.authenticate($0) }
            let (items, subscription) = hub.subscribe(keyID: key?.id, sessionID: key?.session?.id)
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
                            // nil: the key is revoked or expired; an error (the database is away)
                            // leaves the stream alone until the next tick.
                            if let credential, (try? await keys.authenticate(credential).map { _ in true } ?? false) == false {
                                hub.end(subscription, key?.session == nil ? .keyRevoked : .signedOut)
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
}
