/// How `oms serve` listens.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Apply pending migrations before accepting requests.
    public var migrateOnStart: Bool
    /// The largest request body accepted (bytes); larger ones get 413.
    public var maximumBodySize: Int
    /// How long `GET /health` waits for the database before reporting it unreachable (seconds).
    public var healthProbeTimeout: Double
    /// A connection that sends nothing for this long (seconds) is closed: an idle keep-alive
    /// connection, or one that sent half a request head. Never while a response is being sent.
    public var idleTimeout: Double
    /// A request body must arrive whole within this many seconds (a body trickled in is refused 408).
    public var bodyReadTimeout: Double
    /// How many events may wait for one live-stream client before it is ended as too slow.
    public var streamBufferEvents: Int
    /// How long a stream the service ended may take to deliver its `stream.closed` event before
    /// its connection is closed (seconds): a client that does not read within it never learns why.
    public var streamCloseGrace: Double = 5
    /// How many failed API key checks an address may make, and how fast they are forgotten.
    public var failedKeyLimit = FailedKeyLimiter.Settings()
    /// The operator console: session length, where Leaflet is, the map's tiles.
    public var console = ConsoleSettings()
    /// Serve HTTPS with this certificate and key (reloaded on SIGHUP by `oms serve`); nil: plain HTTP.
    public var tls: TLSFiles?
    /// How a synchronous KAIFA or ONU request is applied (`FeedController`).
    public var meterFeedApplication = MeterFeedApplication.adaptive
    /// How long a grouped synchronous request waits for its messages to be applied (seconds) before
    /// it is answered 503 (they stay in the intake and are applied; a repeat is answered as one).
    public var groupedAnswerLimit: Double = 30

    /// How the service applies a synchronous (not `Prefer: respond-async`) KAIFA or ONU request.
    public enum MeterFeedApplication: String, Sendable, CaseIterable {
        /// Kept in the feed intake and applied there by the correlators with whatever else waits
        /// (the KAIFA and ONU requests of one area correlated in one call, as a group commit does);
        /// answered with the results once applied.
        case grouped
        /// One call of the feed's batch function in the request.
        case direct
        /// `direct` when the request finds this instance with nothing else in hand (no other request
        /// in hand or arriving, no correlator busy) and not under load (no two requests in hand at
        /// once within the last second: `IntakeWakeUp.claimDirect`), else `grouped`. One request at
        /// a time (a feed posting and waiting for each answer) then pays one commit, not the
        /// intake's three (a storm's latency window: 20-30% less time); requests side by side are
        /// grouped as before.
        case adaptive
    }

    public init(host: String = "127.0.0.1", port: Int = 8080, migrateOnStart: Bool = true,
                maximumBodySize: Int = 8 * 1024 * 1024, healthProbeTimeout: Double = 3,
                idleTimeout: Double = 30, bodyReadTimeout: Double = 30, streamBufferEvents: Int = 1000) {
        self.host = host
        self.port = port
        self.migrateOnStart = migrateOnStart
        self.maximumBodySize = maximumBodySize
        self.healthProbeTimeout = healthProbeTimeout
        self.idleTimeout = idleTimeout
        self.bodyReadTimeout = bodyReadTimeout
        self.streamBufferEvents = streamBufferEvents
    }
}
