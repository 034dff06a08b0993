import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy in front of PostgreSQL's Unix socket, for tests of a slow, stalled or replaced
/// database: it forwards bytes both ways, each `delay` late; `pause()` holds every byte and every
/// new connection (the kernel still completes the TCP handshake) until `resume()`, which is how a
/// database stuck in I/O looks to its clients: connected, and silent. `retarget` sends new
/// connections to another server, as a failover's virtual address or HAProxy does after a standby
/// is promoted.
final class DatabaseProxy: Sendable {
    private struct State {
        var paused = false
        var delay = TimeAmount.zero
        var upstream: String
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    /// Where clients connect (127.0.0.1).
    let port: Int
    private let server: any Channel
    private let state: Mutex<State>

    private init(server: any Channel, upstream: String) {
        self.server = server
        self.port = server.localAddress?.port ?? 0
        self.state = Mutex(State(upstream: upstream))
    }

    /// Starts a proxy to the server listening at the Unix socket `upstreamSocket`.
    static func start(upstreamSocket: String) async throws -> DatabaseProxy {
        let box = ProxyBox()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture {
                            try outbound.pipeline.syncOperations.addHandler(Forward(to: inbound, proxy: box))
                        }
                    }
                    .connect(unixDomainSocketPath: box.proxy?.upstream ?? upstreamSocket)
                    .flatMapThrowing { outbound in
                        try inbound.pipeline.syncOperations.addHandler(Forward(to: outbound, proxy: box))
                        box.proxy?.track(inbound)
                        box.proxy?.track(outbound)
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let proxy = DatabaseProxy(server: server, upstream: upstreamSocket)
        box.proxy = proxy
        return proxy
    }

    /// Holds every byte and new connection until `resume()`.
    func pause() { setReading(false) }

    /// Lets bytes and connections through again.
    func resume() { setReading(true) }

    /// Each forwarded chunk goes `delay` late.
    func setDelay(_ delay: TimeAmount) { state.withLock { $0.delay = delay } }

    /// Closes the proxy and every connection through it.
    func close() async {
        let channels = state.withLock { Array($0.channels.values) }
        for channel in channels { channel.close(promise: nil) }
        try? await server.close()
    }

    var delay: TimeAmount { state.withLock { $0.delay } }

    /// Where new connections go.
    var upstream: String { state.withLock { $0.upstream } }

    /// Sends new connections to the server at `socket` and closes those open to the old one.
    func retarget(to socket: String) {
        let open = state.withLock { state in
            state.upstream = socket
            return Array(state.channels.values)
        }
        for channel in open { channel.close(promise: nil) }
    }

    private func setReading(_ reading: Bool) {
        let channels = state.withLock { state in
            state.paused = !reading
            return Array(state.channels.values)
        }
        server.setOption(.autoRead, value: reading).whenComplete { _ in }
        for channel in channels { channel.setOption(.autoRead, value: reading).whenComplete { _ in } }
    }

    fileprivate func track(_ channel: any Channel) {
        let paused = state.withLock { state in
            state.channels[ObjectIdentifier(channel)] = channel
            return state.paused
        }
        channel.setOption(.autoRead, value: !paused).whenComplete { _ in }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
        }
    }
}

/// The proxy, set once it exists (the connection handlers are made before it is).
private final class ProxyBox: Sendable {
    private let value = Mutex<DatabaseProxy?>(nil)
    var proxy: DatabaseProxy? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// Writes what one side reads to the other, `delay` late; a side that closes closes the other.
private final class Forward: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let peer: any Channel
    let proxy: ProxyBox

    init(to peer: any Channel, proxy: ProxyBox) {
        self.peer = peer
        self.proxy = proxy
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let delay = proxy.proxy?.delay ?? .zero
        let peer = self.peer
        if delay == .zero {
            peer.writeAndFlush(bytes, promise: nil)
        } else {
            context.eventLoop.scheduleTask(in: delay) { peer.writeAndFlush(bytes, promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
