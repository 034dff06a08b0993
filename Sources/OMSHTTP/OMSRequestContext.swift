import Hummingbird
import NIOCore

/// The request context of the service's router: Hummingbird's basic context plus the address of
/// the connected client (`RemoteAddressRequestContext`, which Hummingbird's tracing reads too),
/// so that failed API key checks can be limited and logged per address (`FailedKeyLimiter`), and
/// its connection, so that a live stream whose client stopped reading can be closed.
/// Controllers stay generic over `RequestContext`; middleware reads the address with
/// `ClientAddress(context)`, "unknown" under a context without one (router tests).
public struct OMSRequestContext: RequestContext, RemoteAddressRequestContext, ConnectionClosingContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer of the connection the request came on (nil in router tests).
    public let remoteAddress: SocketAddress?
    /// The connection itself, so that a stream whose client stopped reading can be ended.
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    public func closeConnection() {
        channel.close(promise: nil)
    }

    public func stopReading() {
        // Hummingbird writes the answer after the route returns, then would drain the rest of the
        // body to keep the connection: close it a moment after (time for a short answer to go).
        // Reading stops at once (shutdown of the socket's input; what the client sends further is
        // discarded by the kernel), the connection ends when the answer has had time to go.
        let channel = self.channel
        channel.close(mode: .input, promise: nil)
        channel.eventLoop.scheduleTask(in: .milliseconds(250)) { channel.close(promise: nil) }
    }
}
