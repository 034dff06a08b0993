import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OMSDomain
import OMSStore
import OMSTestSupport
import PostgresNIO
import Synchronization
import Testing

@testable import OMSHTTP

/// Failed API key checks are limited per client address and logged (issue 13, item 4): after
/// 10 failures from one address its unknown keys get 429 with `Retry-After` without the database
/// being asked; a key already known still passes; each failure is logged with the address and
/// the key's first characters, never the key.
@Suite("failed API key checks: limited per address, logged")
struct KeyRateLimitTests {
    @Test("the bucket: `burst` failures at once, then one per interval; Retry-After says when")
    func bucket() {
        let limiter = FailedKeyLimiter(settings: .init(burst: 3, drainInterval: .seconds(10), capacity: 100))
        let client = ClientAddress("192.0.2.1")
        let start = ContinuousClock.now
        #expect(limiter.retryAfter(for: client, now: start) == nil)
        #expect(limiter.recordFailure(from: client, now: start).limitedFor == nil)
        #expect(limiter.recordFailure(from: client, now: start).limitedFor == nil)
        let third = limiter.recordFailure(from: client, now: start)
        #expect(third.count == 3)
        #expect(third.limitedFor.map { abs(($0 - .seconds(10)) / .milliseconds(1)) < 1 } == true)
        func near(_ duration: Duration?, _ expected: Duration) -> Bool {
            guard let duration else { return false }
            return abs((duration - expected) / .milliseconds(1)) < 1
        }
        #expect(near(limiter.retryAfter(for: client, now: start), .seconds(10)))
        #expect(near(limiter.retryAfter(for: client, now: start + .seconds(4)), .seconds(6)))
        #expect(limiter.retryAfter(for: client, now: start + .seconds(10)) == nil)
        // Another address is not limited by this one.
        #expect(limiter.retryAfter(for: ClientAddress("192.0.2.2"), now: start) == nil)
    }

    @Test("bounded memory: drained addresses are forgotten; past capacity, new addresses share one bucket")
    func boundedTable() {
        let limiter = FailedKeyLimiter(settings: .init(burst: 2, drainInterval: .seconds(1), capacity: 50))
        let start = ContinuousClock.now
        for n in 0..<10_000 {
            _ = limiter.recordFailure(from: ClientAddress("10.0.\(n / 256).\(n % 256)"), now: start)
        }
        #expect(limiter.trackedCount <= 50)
        // The many addresses beyond the table are limited together.
        #expect(limiter.retryAfter(for: ClientAddress("10.200.0.1"), now: start) != nil)
        // Later, drained entries make room again.
        let later = start + .seconds(60)
        _ = limiter.recordFailure(from: ClientAddress("172.16.0.1"), now: later)
        #expect(limiter.trackedCount <= 50)
        #expect(limiter.retryAfter(for: ClientAddress("172.16.0.1"), now: later) == nil)
        #expect(limiter.retryAfter(for: ClientAddress("10.200.0.1"), now: later) == nil)
    }

    @Test("addresses are counted by IPv4 address, IPv6 /64, IPv4-mapped IPv6 as IPv4")
    func addresses() throws {
        #expect(ClientAddress(socketAddress: try SocketAddress(ipAddress: "203.0.113.7", port: 1)).description == "203.0.113.7")
        let a = ClientAddress(socketAddress: try SocketAddress(ipAddress: "2001:db8:1:2:aaaa::1", port: 1))
        let b = ClientAddress(socketAddress: try SocketAddress(ipAddress: "2001:db8:1:2:bbbb::9", port: 1))
        #expect(a == b)
        #expect(a.description == "2001:db8:1:2::/64")
        #expect(ClientAddress(socketAddress: try SocketAddress(ipAddress: "::ffff:198.51.100.4", port: 1)).description == "198.51.100.4")
        #expect(ClientAddress(socketAddress: nil).description == "unknown")
    }

    @Test("the log shows at most 12 characters, and never more than a third, of a presented key")
    func keyPrefix() {
        let key = APIKeyStore.generateKey()
        let shown = KeyRefusal.prefix(of: key)
        #expect(shown == String(key.prefix(12)) + "…")
        #expect(KeyRefusal.prefix(of: "hunter2") == "hu…")
        #expect(KeyRefusal.prefix(of: "ab") == "(2 characters)")
    }

    @Test("over HTTP: 10 failures from 127.0.0.1, then 429 with Retry-After without the database; a known key still passes; each failure logged")
    func overHTTP() async throws {
        let lines = CapturedLog()
        let logger = lines.logger(level: .notice)
        try await TestDatabase.with(.migrated) { database in
            let good = try await APIKeyStore(client: database.client, logger: TestDatabase.logger).create(scopes: [.read], name: "good").key
            let watch = DatabaseWatch(configuration: database.configuration)
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: watch.poolLogger(wrapping: TestDatabase.logger))
            var settings = ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false)
            // Nothing drains during the test, however slowly a loaded machine runs its 10 guesses.
            settings.failedKeyLimit = .init(burst: 10, drainInterval: .seconds(600))
            try await withLiveClient({
                try buildApplication(client: client, settings: settings, logger: logger, watch: watch, onServerRunning: $0)
            }) { http in
                // The pool's first connection, made before any timed request: at the suite's busiest
                // a new connection can take longer than the test client's 20 s read timeout.
                try await client.fetch("SELECT 1", logger: TestDatabase.logger)
                func get(_ key: String) async throws -> (HTTPResponse.Status, String?, Duration) {
                    let start = ContinuousClock.now
                    return try await http.execute(uri: "/api/v1/settings", method: .get, headers: [.authorization: "Bearer \(key)"]) {
                        ($0.status, $0.headers[.retryAfter], ContinuousClock.now - start)
                    }
                }
                #expect(try await get(good).0 == .ok)  // now remembered
                let rememberedAt = ContinuousClock.now
                let guesses = (0..<10).map { "oms_guess\($0)-" + String(repeating: "x", count: 34) }
                for guess in guesses {
                    #expect(try await get(guess).0 == .unauthorized)
                }
                // The key already known still passes from the limited address, while it is remembered
                // (KeyCheck.timeToLive, a minute). Seen once in a full run: the ten guesses took over a
                // minute on a loaded machine, the key was forgotten and rightly refused; that is not
                // what this line is about, so it is asked only within the minute, and said otherwise.
                // (20 s to spare: a fresh-clone CI run failed this line once at the suite's peak when
                // it was asked with 5 s to spare, most likely the check crossing the minute.)
                if ContinuousClock.now - rememberedAt < KeyCheck.timeToLive - .seconds(20) {
                    #expect(try await get(good).0 == .ok)
                } else {
                    withKnownIssue("the guesses outlasted the remembered key's minute on a loaded machine") {
                        #expect(Bool(false))
                    }
                }

                // The database stops taking connections: asking it about a key would now take
                // seconds and end in 503. The 11th guess is a 429 at once: it was not asked.
                let maintenance = try await TestDatabase.server().clientConfiguration(database: "postgres")
                try await DatabaseBootstrap.withClient(maintenance, logger: TestDatabase.logger) { admin in
                    try await admin.fetch(
                        PostgresQuery(unsafeSQL: "ALTER DATABASE \(database.name) ALLOW_CONNECTIONS false"), logger: TestDatabase.logger)
                    try await admin.fetch(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(database.name)", logger: TestDatabase.logger)
                }
                let limited = try await get("oms_guess-eleven-" + String(repeating: "y", count: 30))
                #expect(limited.0 == .tooManyRequests)
                #expect(limited.1.flatMap(Int.init).map { $0 >= 1 && $0 <= 600 } == true, "Retry-After \(limited.1 ?? "none")")
                // The 429 itself shows the database was not asked (asked, it answers 503); the bound
                // is loose because a loaded 2-core machine took 1.3 s to answer at all.
                #expect(limited.2 < .seconds(5), "took \(limited.2)")
                try await DatabaseBootstrap.withClient(maintenance, logger: TestDatabase.logger) { admin in
                    try await admin.fetch(
                        PostgresQuery(unsafeSQL: "ALTER DATABASE \(database.name) ALLOW_CONNECTIONS true"), logger: TestDatabase.logger)
                }
            }
        }
        let refused = lines.lines.filter { $0.contains("API key refused") }
        #expect(refused.count == 10, "\(lines.lines)")
        #expect(refused.allSatisfy { $0.contains("client=127.0.0.1") && $0.contains("key_prefix=oms_guess") })
        #expect(!lines.lines.joined().contains(String(repeating: "x", count: 34)), "a whole key in the log")
        #expect(lines.lines.contains { $0.contains("too many failed API key checks") && $0.contains("client=127.0.0.1") })
    }
}
