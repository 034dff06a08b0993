/// The data of `event: stream.closed`: why the service ended a live stream.
struct StreamClosed: Encodable {
    /// `slow_client`, `key_revoked`, `signed_out` or `shutting_down`.
    var reason: String
    /// A sentence for people.
    var detail: String

    init(_ reason: LiveEventHub.EndReason) {
        self.reason = reason.rawValue
        detail = reason.explanation
    }
}
