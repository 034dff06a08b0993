import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import OMSDomain
import OMSHTTP
import OMSTestSupport
import PostgresNIO
import ServiceLifecycle
import Testing

@testable import OMSStore

#if canImport(Glibc)
import Glibc
#endif

/// `oms serve --tls-cert --tls-key`: HTTPS with certificates made by the openssl CLI for the test,
/// the files refused at start by option and reason, and reloads (in process, and by SIGHUP to a
/// real `oms serve` child process: never a signal to the test process itself).
@Suite("TLS: HTTPS, refusals at start, reload on SIGHUP")
struct TLSTests {
    @Test("HTTPS: /health 200 to a client trusting the test CA, plain HTTP on the same port refused, the console's cookie Secure by scheme")
    func https() async throws {
        try await Self.withScratch { folder in
            let pki = try await TestPKI.make(in: folder + "/one", name: "one", serial: "1001")
            try await TestDatabase.with(.migrated) { database in
                let read = try await bearer(database, [.read])
                let certificates = try TLSCertificates(files: pki.files, logger: TestDatabase.logger)
                #expect(certificates.identity.serialNumber == "1001" && certificates.identity.chainLength == 2)
                #expect(certificates.identity.names.hasPrefix("common_name=oms test server one"), "\(certificates.identity.names)")
                try await Self.withTLSApp(database, certificates) { port in
                    try await Self.withClient(trusting: pki.caPath) { client in
                        #expect(try await Self.status(client, "https://127.0.0.1:\(port)/health") == 200)

                        // The sign-in, to a host that is not loopback: only the scheme makes it a secure origin.
                        var signIn = HTTPClientRequest(url: "https://127.0.0.1:\(port)/api/v1/console/session")
                        signIn.method = .POST
                        signIn.headers.replaceOrAdd(name: "Host", value: "oms.example")
                        signIn.headers.add(name: "Content-Type", value: "application/json")
                        signIn.body = .bytes(ByteBuffer(string: #"{"key": "\#(read.dropFirst("Bearer ".count))"}"#))
                        let response = try await client.execute(signIn, timeout: .seconds(60))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        #expect(response.status.code == 200)
                        let cookie = response.headers.first(name: "Set-Cookie") ?? ""
                        #expect(cookie.hasPrefix("__Host-oms_session=") && cookie.hasSuffix("; Secure"), "\(cookie)")
                    }
                    // Plain HTTP to the TLS port: no HTTP answer, the connection is closed.
                    let plain = try RawConnection(port: port)
                    try plain.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    let (text, closed) = try await plain.read(timeout: .seconds(30))
                    #expect(closed && !text.contains("HTTP/1."), "\(text)")
                    // And a client that does not trust the CA refuses the server.
                    try await Self.withClient(trusting: nil, connect: .seconds(2)) { client in
                        await #expect(throws: (any Error).self) { try await Self.status(client, "https://127.0.0.1:\(port)/health") }
                    }
                }
            }
        }
    }

    @Test("files refused at start, each naming its option and why: missing, a folder, not PEM, a key of another certificate")
    func refusals() async throws {
        try await Self.withScratch { folder in
            let one = try await TestPKI.make(in: folder + "/one", name: "one", serial: "1001")
            let two = try await TestPKI.make(in: folder + "/two", name: "two", serial: "2002")
            let cases: [(TLSFiles, String, String)] = [
                (TLSFiles(certificatePath: folder + "/nothing.pem", keyPath: one.keyPath), "--tls-cert \(folder)/nothing.pem", "no such file"),
                (TLSFiles(certificatePath: one.certificatePath, keyPath: folder), "--tls-key \(folder)", "a folder, not a file"),
                (TLSFiles(certificatePath: one.keyPath, keyPath: one.keyPath), "--tls-cert \(one.keyPath)", "not a PEM certificate"),
                (TLSFiles(certificatePath: one.certificatePath, keyPath: one.certificatePath), "--tls-key \(one.certificatePath)",
                 "not a PEM private key"),
                (TLSFiles(certificatePath: one.certificatePath, keyPath: two.keyPath), "--tls-key \(two.keyPath)",
                 "does not match the certificate of --tls-cert \(one.certificatePath)"),
            ]
            for (files, named, reason) in cases {
                #expect {
                    _ = try TLSCertificates(files: files, logger: TestDatabase.logger)
                } throws: { error in
                    "\(error)".hasPrefix(named + ": ") && "\(error)".contains(reason)
                }
            }
            // The application is not built with a file it cannot serve.
            var mismatched = ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false)
            mismatched.tls = TLSFiles(certificatePath: one.certificatePath, keyPath: two.keyPath)
            let settings = mismatched
            _ = try await TestDatabase.with(.migrated) { database in
                #expect(throws: TLSFilesError.self) {
                    _ = try buildApplication(client: database.client, settings: settings, logger: TestDatabase.logger)
                }
            }
        }
    }

    @Test("reload: new connections get the new certificate, an open connection keeps its own, a failed reload keeps the old one")
    func reload() async throws {
        try await Self.withScratch { folder in
            let one = try await TestPKI.make(in: folder + "/one", name: "one", serial: "1001")
            let two = try await TestPKI.make(in: folder + "/two", name: "two", serial: "2002")
            let serving = TLSFiles(certificatePath: folder + "/cert.pem", keyPath: folder + "/key.pem")
            try one.install(at: serving)
            let log = CapturedLog()
            try await TestDatabase.with(.migrated) { database in
                let certificates = try TLSCertificates(files: serving, logger: log.logger(level: .notice))
                try await Self.withTLSApp(database, certificates) { port in
                    let url = "https://127.0.0.1:\(port)/health"
                    try await Self.withClient(trusting: one.caPath) { first in
                        // A connection made now, kept open (keep-alive) by the client's pool.
                        #expect(try await Self.status(first, url) == 200)

                        try two.install(at: serving)
                        let reloaded = certificates.reload()
                        #expect((try? reloaded.get())?.serialNumber == "2002")
                        #expect(certificates.identity.serialNumber == "2002")
                        // A new connection is served the second certificate: a client trusting only the
                        // second CA accepts it, a new one trusting only the first refuses it.
                        let served = try await Self.withClient(trusting: two.caPath) { try await Self.status($0, url) }
                        #expect(served == 200)
                        try await Self.withClient(trusting: one.caPath, connect: .seconds(2)) { fresh in
                            await #expect(throws: (any Error).self) { try await Self.status(fresh, url) }
                        }
                        // The connection opened before the reload was not dropped: it still answers
                        // (a new connection of this client would be refused, as above).
                        #expect(try await Self.status(first, url) == 200)
                    }

                    // A key of another certificate, then a file that is not PEM: each reload fails, naming
                    // the file and why, and the second certificate is still served.
                    try FileManager.default.removeItem(atPath: serving.keyPath)
                    try FileManager.default.copyItem(atPath: one.keyPath, toPath: serving.keyPath)
                    guard case .failure(let mismatch) = certificates.reload() else {
                        Issue.record("a key of another certificate was reloaded")
                        return
                    }
                    #expect(mismatch.option == "--tls-key" && mismatch.reason.contains("does not match"))
                    try two.install(at: serving)
                    try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: serving.certificatePath))
                    guard case .failure(let garbage) = certificates.reload() else {
                        Issue.record("a certificate file that is not PEM was reloaded")
                        return
                    }
                    #expect(garbage.option == "--tls-cert" && garbage.reason.contains("not a PEM certificate"))
                    #expect(certificates.identity.serialNumber == "2002")
                    let stillServed = try await Self.withClient(trusting: two.caPath) { try await Self.status($0, url) }
                    #expect(stillServed == 200)
                }
                let lines = log.lines
                #expect(lines.contains { $0.hasPrefix("notice TLS certificate reloaded") && $0.contains("serial=2002") })
                #expect(lines.filter { $0.hasPrefix("error TLS certificate not reloaded") }.count == 2)
                #expect(lines.contains { $0.hasPrefix("error TLS certificate not reloaded") && $0.contains("does not match") })
            }
        }
    }

    @Test("oms serve (a child process): SIGHUP reloads the files; a file that fails keeps the old certificate; it keeps serving")
    func sighup() async throws {
        let oms = try Self.omsBinary()
        try await Self.withScratch { folder in
            let one = try await TestPKI.make(in: folder + "/one", name: "one", serial: "1001")
            let two = try await TestPKI.make(in: folder + "/two", name: "two", serial: "2002")
            let serving = TLSFiles(certificatePath: folder + "/cert.pem", keyPath: folder + "/key.pem")
            try one.install(at: serving)
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                let port = try closedTCPPort()
                let logFile = folder + "/serve.log"
                let pid = try ChildProcess.spawn(oms, [
                    "serve", "--database-url", url, "--connect-timeout", "30", "--host", "127.0.0.1", "--port", "\(port)",
                    "--tls-cert", serving.certificatePath, "--tls-key", serving.keyPath,
                ], outputFile: logFile)
                let log = { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
                do {
                    let health = "https://127.0.0.1:\(port)/health"
                    try await Self.withClient(trusting: one.caPath) { client in
                        try await Self.until("oms serve answers over HTTPS", within: .seconds(120), pid: pid, log: log) {
                            (try? await Self.status(client, health)) == 200
                        }
                    }
                    try two.install(at: serving)
                    kill(pid, SIGHUP)
                    try await Self.withClient(trusting: two.caPath) { client in
                        try await Self.until("the second certificate is served after SIGHUP", within: .seconds(60), pid: pid, log: log) {
                            (try? await Self.status(client, health)) == 200
                        }
                    }
                    #expect(log().contains("TLS certificate reloaded"))

                    try Data("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n".utf8)
                        .write(to: URL(fileURLWithPath: serving.certificatePath))
                    kill(pid, SIGHUP)
                    try await Self.until("the failed reload is logged", within: .seconds(60), pid: pid, log: log) {
                        log().contains("TLS certificate not reloaded")
                    }
                    #expect(log().contains("--tls-cert \(serving.certificatePath): not a PEM certificate"))
                    let afterFailure = try await Self.withClient(trusting: two.caPath) { try await Self.status($0, health) }
                    #expect(afterFailure == 200)
                    #expect(await Self.stop(pid) == 0, "\(log())")
                } catch {
                    _ = await Self.stop(pid)
                    throw error
                }
            }
        }
    }

    @Test("oms serve (a child process): a key that does not match is refused at start, naming --tls-key; without TLS a SIGHUP is logged and ignored")
    func startAndPlainSIGHUP() async throws {
        let oms = try Self.omsBinary()
        try await Self.withScratch { folder in
            let one = try await TestPKI.make(in: folder + "/one", name: "one", serial: "1001")
            let two = try await TestPKI.make(in: folder + "/two", name: "two", serial: "2002")
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)

                // Refused before anything starts: it exits by itself, saying which file and why.
                let refusedLog = folder + "/refused.log"
                let refused = try ChildProcess.spawn(oms, [
                    "serve", "--database-url", url, "--host", "127.0.0.1", "--port", "\(try closedTCPPort())",
                    "--tls-cert", one.certificatePath, "--tls-key", two.keyPath,
                ], outputFile: refusedLog)
                let exit = await Self.exitStatus(refused, within: .seconds(60))
                let refusal = (try? String(contentsOfFile: refusedLog, encoding: .utf8)) ?? ""
                #expect(exit != nil && exit != 0, "\(refusal)")
                #expect(refusal.contains("--tls-key \(two.keyPath): does not match the certificate of --tls-cert"), "\(refusal)")
                #expect(!refusal.contains("serving"))

                // Plain HTTP: SIGHUP is logged and the service goes on.
                let port = try closedTCPPort()
                let logFile = folder + "/plain.log"
                let pid = try ChildProcess.spawn(oms, [
                    "serve", "--database-url", url, "--connect-timeout", "30", "--host", "127.0.0.1", "--port", "\(port)",
                ], outputFile: logFile)
                let log = { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
                do {
                    try await Self.withClient(trusting: nil) { client in
                        let health = "http://127.0.0.1:\(port)/health"
                        try await Self.until("oms serve answers", within: .seconds(120), pid: pid, log: log) {
                            (try? await Self.status(client, health)) == 200
                        }
                        kill(pid, SIGHUP)
                        try await Self.until("the ignored SIGHUP is logged", within: .seconds(60), pid: pid, log: log) {
                            log().contains("SIGHUP ignored")
                        }
                        #expect(try await Self.status(client, health) == 200)
                    }
                    #expect(await Self.stop(pid) == 0, "\(log())")
                } catch {
                    _ = await Self.stop(pid)
                    throw error
                }
            }
        }
    }
}

/// A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost (P-256), made with
/// the openssl CLI; the certificate file holds the chain (the server's certificate, then the CA's).
struct TestPKI: Sendable {
    let folder: String
    var caPath: String { folder + "/ca.pem" }
    var certificatePath: String { folder + "/chain.pem" }
    var keyPath: String { folder + "/server.key" }
    var files: TLSFiles { TLSFiles(certificatePath: certificatePath, keyPath: keyPath) }

    static let openssl = "/usr/bin/openssl"

    /// Makes the CA ("oms test CA `name`") and the server certificate (serial `serial`, hexadecimal).
    static func make(in folder: String, name: String, serial: String) async throws -> TestPKI {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pki = TestPKI(folder: folder)
        let extensions = folder + "/server.ext"
        try Data("""
            subjectAltName = IP:127.0.0.1, DNS:localhost
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth

            """.utf8).write(to: URL(fileURLWithPath: extensions))
        try await run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc", "-days", "2",
            "-keyout", folder + "/ca.key", "-out", pki.caPath, "-subj", "/CN=oms test CA \(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try await run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc",
            "-keyout", pki.keyPath, "-out", folder + "/server.csr", "-subj", "/CN=oms test server \(name)",
        ])
        try await run([
            "x509", "-req", "-in", folder + "/server.csr", "-CA", pki.caPath, "-CAkey", folder + "/ca.key",
            "-set_serial", "0x\(serial)", "-days", "2", "-extfile", extensions, "-out", folder + "/server.pem",
        ])
        let chain = try Data(contentsOf: URL(fileURLWithPath: folder + "/server.pem")) + Data(contentsOf: URL(fileURLWithPath: pki.caPath))
        try chain.write(to: URL(fileURLWithPath: pki.certificatePath))
        return pki
    }

    static func run(_ arguments: [String]) async throws {
        let (status, output) = try await ChildProcess.run(openssl, arguments)
        guard status == 0 else { throw RawConnectionError("openssl \(arguments.prefix(2).joined(separator: " ")): \(output)") }
    }

    /// Writes this certificate and key where `files` say (each file replaced whole, by a rename).
    func install(at files: TLSFiles) throws {
        try Data(contentsOf: URL(fileURLWithPath: certificatePath)).write(to: URL(fileURLWithPath: files.certificatePath), options: .atomic)
        try Data(contentsOf: URL(fileURLWithPath: keyPath)).write(to: URL(fileURLWithPath: files.keyPath), options: .atomic)
    }
}

extension TLSTests {
    /// Runs `body` with a new folder under the temp directory, removed afterwards.
    static func withScratch<Value: Sendable>(_ body: (String) async throws -> Value) async throws -> Value {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try await body(folder)
    }

    /// Runs the application with `certificates` on 127.0.0.1, port 0, for `body`; then stops it.
    static func withTLSApp<Value: Sendable>(
        _ database: TestDatabase.Handle, _ certificates: TLSCertificates, _ body: @escaping @Sendable (_ port: Int) async throws -> Value
    ) async throws -> Value {
        var settings = ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false)
        // Long enough for a keep-alive connection to outlive a slow test on a loaded machine.
        settings.idleTimeout = 600
        return try await withLiveApp(database, settings: settings, tls: certificates, body)
    }

    /// Runs `body` with an HTTP client of its own (its own connections) that trusts only the CA in
    /// `caPath` (nil: the system's roots); shut down afterwards. A client expected to refuse the
    /// server gets a short `connect` time: the client retries a failed handshake until it ends.
    /// Otherwise a minute: in a fresh clone's CI run the reload test's handshake once took over 20 s
    /// (connectTimeout), in the seconds when the whole suite's databases came from their templates at
    /// once and dozens of tests started on two cores (many of them ended at that same 120.0 s mark).
    @discardableResult
    static func withClient<Value: Sendable>(
        trusting caPath: String?, connect: TimeAmount = .seconds(60), _ body: (HTTPClient) async throws -> Value
    ) async throws -> Value {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caPath { tls.trustRoots = .file(caPath) }
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(tlsConfiguration: tls, timeout: .init(connect: connect, read: .seconds(60))))
        do {
            let value = try await body(client)
            try await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The status of a GET of `url` (its body read, so that the connection can be used again).
    static func status(_ client: HTTPClient, _ url: String) async throws -> Int {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// The `oms` executable next to the test bundle (`swift build --build-tests` builds both).
    static func omsBinary() throws -> String {
        let folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let oms = folder.appendingPathComponent("oms").path
        guard FileManager.default.isExecutableFile(atPath: oms) else {
            throw RawConnectionError("no oms executable at \(oms): build it with the tests (swift build --build-tests)")
        }
        return oms
    }

    /// Polls `condition` every 200 ms until it holds; fails after `limit`, or at once when the child
    /// `pid` has exited, with the end of its log.
    static func until(
        _ what: String, within limit: Duration, pid: pid_t, log: () -> String, _ condition: () async -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if await condition() { return }
            if let status = ChildProcess.exitStatusIfExited(pid) {
                throw RawConnectionError("\(what): oms serve exited with \(status); its log ends:\n\(log().suffix(3000))")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw RawConnectionError("\(what): not within \(limit); the log of oms serve ends:\n\(log().suffix(3000))")
    }

    /// The child's exit status once it exits by itself within `limit`; nil (and it is killed) if it does not.
    static func exitStatus(_ pid: pid_t, within limit: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let status = ChildProcess.exitStatusIfExited(pid) { return status }
            try? await Task.sleep(for: .milliseconds(100))
        }
        kill(pid, SIGKILL)
        _ = await ChildProcess.waitForExitWithoutBlocking(pid)
        return nil
    }

    /// SIGTERM (a graceful stop), SIGKILL after 60 s; the exit status.
    static func stop(_ pid: pid_t) async -> Int32 {
        kill(pid, SIGTERM)
        if let status = await Self.exitStatus(pid, within: .seconds(60)) { return status }
        return -1
    }
}
