import OMSStore
import PostgresNIO
import Testing

@Suite("Database URLs")
struct DatabaseURLTests {
    @Test("TCP URL with credentials, port and sslmode")
    func tcp() throws {
        let url = try DatabaseURL("postgres://oms:s%40cret@db.example:6543/outages?sslmode=require")
        #expect(url.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(url.username == "oms")
        #expect(url.password == "s@cret")
        #expect(url.database == "outages")
        #expect(url.tls == .require)
        #expect(!url.description.contains("s@cret"))
    }

    @Test("Unix socket URL as psql takes it; defaults like libpq")
    func socket() throws {
        let url = try DatabaseURL("postgresql://postgres@/oms?host=/tmp/x&port=5555")
        #expect(url.endpoint == .unixSocket(path: "/tmp/x/.s.PGSQL.5555"))
        #expect(url.database == "oms")
        let bare = try DatabaseURL("postgresql://alice@localhost")
        #expect(bare.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(bare.database == "alice")
    }

    @Test("the probe connects with the TLS mode of the pool's configuration (read from PostgresNIO by reflection: this fails if its layout changes)")
    func probeTLS() throws {
        for (mode, expected) in [("disable", "disable"), ("prefer", "prefer"), ("require", "require")] {
            let configuration = try DatabaseURL("postgres://oms@db.example:5432/oms?sslmode=\(mode)").clientConfiguration()
            let probe = try DatabaseProbe(configuration)
            let tls = String(describing: probe.connection.tls)
            #expect(tls.lowercased().contains(expected), "sslmode=\(mode): the probe's TLS is \(tls)")
        }
    }

    @Test("bad URLs are refused with the reason")
    func bad() {
        #expect(throws: DatabaseURLError.self) { try DatabaseURL("mysql://x@y/z") }
        #expect(throws: DatabaseURLError.self) { try DatabaseURL("postgres://x@y/z?sslmode=maybe") }
        let long = "/" + String(repeating: "d", count: 120)
        #expect(throws: DatabaseURLError.self) { try DatabaseURL("postgres://x@/z?host=\(long)") }
    }

    @Test("schema file names carry the version (versioned) or the order (current)")
    func migrationNames() throws {
        let migrations = try Migration.bundled()
        #expect(migrations.first?.version == LegacySchema.baselineVersion)
        #expect(migrations.map(\.version) == Array(migrations.first!.version..<(migrations.first!.version + migrations.count)))
        #expect(migrations.allSatisfy { $0.fileName.hasPrefix(String(String($0.version + 10000).dropFirst()) + "_") })
        let current = try CurrentSchemaFile.bundled()
        #expect(current.map(\.order) == Array(1...current.count))
        #expect(current.allSatisfy { $0.fileName.hasPrefix(String(String($0.order + 100).dropFirst()) + "_") })
    }
}
