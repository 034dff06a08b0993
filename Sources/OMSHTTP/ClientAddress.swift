import Foundation
import Hummingbird
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Who a request came from, as the key-check limit counts them: an IPv4 address, an IPv6 /64
/// (one host usually holds a whole /64, so counting single IPv6 addresses would count nothing),
/// "unix" for a Unix socket, or "unknown".
struct ClientAddress: Hashable, Sendable, CustomStringConvertible {
    let description: String

    init(_ text: String) { description = text }

    /// A request without a peer address (router tests).
    static let unknown = ClientAddress("unknown")

    init(_ context: some RequestContext) {
        self.init(socketAddress: (context as? any RemoteAddressRequestContext)?.remoteAddress)
    }

    init(socketAddress: SocketAddress?) {
        guard let address = socketAddress else { self.init("unknown"); return }
        switch address {
        case .v4:
            self.init(address.ipAddress ?? "unknown")
        case .v6:
            guard let text = address.ipAddress, let bytes = Self.ipv6Bytes(text) else { self.init(address.ipAddress ?? "unknown"); return }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                self.init(bytes[12..<16].map(String.init).joined(separator: "."))  // IPv4-mapped
            } else {
                let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                self.init(groups.joined(separator: ":") + "::/64")
            }
        case .unixDomainSocket:
            self.init("unix")
        }
    }

    /// The 16 bytes of an IPv6 address in text.
    static func ipv6Bytes(_ text: String) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: 16)
        let parsed = bytes.withUnsafeMutableBytes { inet_pton(AF_INET6, text, $0.baseAddress) }
        return parsed == 1 ? bytes : nil
    }
}
