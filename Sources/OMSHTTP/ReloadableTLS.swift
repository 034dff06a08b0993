import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOSSL
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The PEM files `oms serve` serves HTTPS with (`--tls-cert`, `--tls-key`).
public struct TLSFiles: Sendable, Equatable {
    /// The server's certificate, then any intermediate certificates of its chain (PEM).
    public var certificatePath: String
    /// The certificate's private key (PEM, not encrypted).
    public var keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }
}

/// Why TLS files cannot be served: the option that named the file, the file, the reason.
public struct TLSFilesError: Error, Equatable, CustomStringConvertible {
    /// `--tls-cert` or `--tls-key`.
    public var option: String
    public var path: String
    public var reason: String

    public var description: String { "\(option) \(path): \(reason)" }
}

/// What the certificate being served is, for the log (and the tests).
public struct TLSIdentity: Sendable, Equatable {
    /// The server certificate's serial number, in hexadecimal.
    public var serialNumber: String
    /// The server certificate's names as NIOSSL describes them: `common_name=…;alternative_names=…`.
    public var names: String
    /// The end of the server certificate's validity.
    public var notValidAfter: Date
    /// How many certificates the chain file holds (the server's and its intermediates).
    public var chainLength: Int
}

/// The TLS certificate and key `oms serve` serves, reloadable while it serves.
///
/// Each connection takes the `NIOSSLContext` current when it is accepted (`ReloadableTLSChannel`),
/// so a `reload()` changes what new connections are served and leaves open ones as they are. A
/// reload that fails (a file unreadable, not PEM, a key that does not match the certificate)
/// changes nothing: the files are read and a whole context is built before it replaces the old.
public final class TLSCertificates: Sendable {
    /// The files read at start and at each reload.
    public let files: TLSFiles
    private let current: Mutex<(context: NIOSSLContext, identity: TLSIdentity)>
    private let logger: Logger

    /// Reads `files`; a file that cannot be served is a `TLSFilesError` naming its option and why.
    public init(files: TLSFiles, logger: Logger) throws(TLSFilesError) {
        let loaded = try Self.load(files)
        self.files = files
        self.current = Mutex(loaded)
        self.logger = logger
        logger.notice("TLS certificate loaded", metadata: Self.metadata(loaded.identity, files))
        if loaded.identity.notValidAfter < Date() {
            logger.warning("the TLS certificate has expired: clients will refuse it", metadata: Self.metadata(loaded.identity, files))
        }
    }

    /// The certificate new connections are served.
    public var identity: TLSIdentity { current.withLock { $0.identity } }

    /// The context a connection accepted now is served with.
    var context: NIOSSLContext { current.withLock { $0.context } }

    /// Reads the files again: on success new connections are served the new certificate (logged
    /// at notice); on failure the old one stays and the reason is logged as an error.
    @discardableResult
    public func reload() -> Result<TLSIdentity, TLSFilesError> {
        do {
            let loaded = try Self.load(files)
            current.withLock { $0 = loaded }
            logger.notice("TLS certificate reloaded: new connections are served it", metadata: Self.metadata(loaded.identity, files))
            if loaded.identity.notValidAfter < Date() {
                logger.warning("the TLS certificate has expired: clients will refuse it", metadata: Self.metadata(loaded.identity, files))
            }
            return .success(loaded.identity)
        } catch {
            logger.error("TLS certificate not reloaded: still serving the previous one", metadata: [
                "reason": "\(error.description)", "serial": "\(identity.serialNumber)",
            ])
            return .failure(error)
        }
    }

    static func metadata(_ identity: TLSIdentity, _ files: TLSFiles) -> Logger.Metadata {
        [
            "names": "\(identity.names)", "serial": "\(identity.serialNumber)",
            "expires": "\(identity.notValidAfter.formatted(.iso8601))", "chain": "\(identity.chainLength)",
            "cert_file": "\(files.certificatePath)", "key_file": "\(files.keyPath)",
        ]
    }

    /// The files as a server context, or why not.
    static func load(_ files: TLSFiles) throws(TLSFilesError) -> (context: NIOSSLContext, identity: TLSIdentity) {
        let certificateBytes = try read(files.certificatePath, option: "--tls-cert")
        let keyBytes = try read(files.keyPath, option: "--tls-key")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(certificateBytes)
        } catch {
            throw TLSFilesError(option: "--tls-cert", path: files.certificatePath, reason: "not a PEM certificate (BEGIN CERTIFICATE)")
        }
        guard let leaf = chain.first else {
            throw TLSFilesError(option: "--tls-cert", path: files.certificatePath, reason: "holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw TLSFilesError(
                option: "--tls-key", path: files.keyPath, reason: "not a PEM private key (BEGIN PRIVATE KEY), or one encrypted with a passphrase")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            // BoringSSL checks the key against the chain's first certificate (KEY_VALUES_MISMATCH).
            throw TLSFilesError(
                option: "--tls-key", path: files.keyPath,
                reason: "does not match the certificate of --tls-cert \(files.certificatePath) (the file's first certificate must be the server's)")
        } catch {
            throw TLSFilesError(option: "--tls-cert", path: files.certificatePath, reason: "cannot be served with this key: \(error)")
        }
        let identity = TLSIdentity(
            serialNumber: leaf.serialNumber.map { String(format: "%02x", $0) }.joined(),
            // NIOSSL's description without its serial number (written there without leading zeros).
            names: leaf.description.trimmingPrefix("<NIOSSLCertificate;").dropLast().split(separator: ";")
                .filter { !$0.hasPrefix("serial_number=") }.joined(separator: ";"),
            notValidAfter: Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)),
            chainLength: chain.count)
        return (context, identity)
    }

    /// A file's bytes, or why it cannot be read, naming its option.
    static func read(_ path: String, option: String) throws(TLSFilesError) -> [UInt8] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TLSFilesError(option: option, path: path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw TLSFilesError(option: option, path: path, reason: "a folder, not a file") }
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch CocoaError.fileReadNoPermission {
            throw TLSFilesError(option: option, path: path, reason: "cannot be read: permission denied")
        } catch {
            throw TLSFilesError(option: option, path: path, reason: "cannot be read: \(error.localizedDescription)")
        }
    }
}

/// HTTP/1 over TLS whose certificate can change while serving: each accepted connection gets a
/// `NIOSSLServerHandler` with the context current at that moment, then the HTTP/1 channel's own
/// setup. (HummingbirdTLS's `TLSChannel` builds its context once, at start.)
struct ReloadableTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let certificates: TLSCertificates

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = certificates.context
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension ReloadableTLSChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

/// Marks each request of a TLS connection as `https`: Hummingbird's HTTP/1 codec always says
/// `http`, and the console's session cookie (`SessionCookie`) is `Secure` by the request's scheme.
final class HTTPSSchemeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        head.scheme = "https"
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 over TLS with `certificates`, reloadable while serving (`TLSCertificates.reload()`).
    public static func http1(configuration: HTTP1Channel.Configuration, tls certificates: TLSCertificates) -> HTTPServerBuilder {
        var configuration = configuration
        let additional = configuration.additionalChannelHandlers
        configuration.additionalChannelHandlers = { [HTTPSSchemeHandler()] + additional() }
        let http1 = configuration
        return HTTPServerBuilder { responder in
            ReloadableTLSChannel(base: HTTP1Channel(responder: responder, configuration: http1), certificates: certificates)
        }
    }
}

/// `oms serve`'s SIGHUP: reload the TLS certificate and key from their files (`TLSCertificates`).
/// Without TLS there is nothing to reload, and a SIGHUP is logged and otherwise ignored: it
/// never stops the service (SIGINT and SIGTERM do).
///
/// SIGHUP is trapped from `init` on (before the database starts, so that an early SIGHUP cannot
/// end the process); signals that arrive before `run()` are handled when it starts.
public struct HangupReload: Service {
    private let signals: UnixSignalsSequence
    private let certificates: TLSCertificates?
    private let logger: Logger

    /// Traps SIGHUP in this process from now on.
    public init(certificates: TLSCertificates?, logger: Logger) async {
        self.signals = await UnixSignalsSequence(trapping: .sighup)
        self.certificates = certificates
        self.logger = logger
    }

    public func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            if let certificates {
                logger.notice("SIGHUP: reloading the TLS certificate and key", metadata: [
                    "cert_file": "\(certificates.files.certificatePath)", "key_file": "\(certificates.files.keyPath)",
                ])
                certificates.reload()
            } else {
                logger.notice("SIGHUP ignored: nothing to reload (serving plain HTTP; --tls-cert and --tls-key serve HTTPS)")
            }
        }
    }
}
