import Hummingbird
import OMSStore

/// `GET /health`: the process answers (liveness: never depends on the database,
/// so that an orchestrator does not restart the service for a database outage).
/// `GET /ready`: whether the database is reachable at the schema version this
/// build expects (readiness: 503 otherwise, with the reason: the server's words when it refused
/// the connection, or what the connection attempt met). Neither needs an API key.
struct HealthController: Sendable {
    let inspector: SchemaInspector
    let expectedSchemaVersion: Int
    /// Seconds to wait for the database before reporting it unreachable.
    let probeTimeout: Double
    /// The application's gate: its check (one connection outside the pool) names why the
    /// database cannot be used, where the pool would only time out.
    var gate: DatabaseGate? = nil

    /// The body of `GET /health`.
    struct Alive: ResponseEncodable, Equatable {
        /// Always "alive".
        var status: String
    }

    /// The body of `GET /ready`.
    struct Health: ResponseEncodable, Equatable {
        /// "ok" when the database answers with the current schema, else "degraded".
        var status: String
        /// "reachable" or "unreachable".
        var database: String
        var schemaVersion: Int?
        var expectedSchemaVersion: Int
        var error: String?

        enum CodingKeys: String, CodingKey {
            case status, database, error
            case schemaVersion = "schema_version", expectedSchemaVersion = "expected_schema_version"
        }
    }

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/health") { _, _ -> Alive in
            Alive(status: "alive")
        }
        router.get("/ready") { _, _ -> EditedResponse<Health> in
            let health = await check()
            guard health.status == "ok" else {
                return EditedResponse(
                    status: .serviceUnavailable, headers: [.retryAfter: "\(DatabaseGate.retryAfterSeconds)"], response: health)
            }
            return EditedResponse(status: .ok, response: health)
        }
    }

    func check() async -> Health {
        if let gate {
            let reach = await gate.check(maxAge: .seconds(1), within: .milliseconds(Int(probeTimeout * 1000)))
            var reason: String?
            switch reach {
            case .unreachable(let why): reason = why
            case nil: reason = "the database did not answer within \(probeTimeout) s"
            case .reachable: reason = nil
            }
            if let reason {
                return Health(
                    status: "degraded", database: "unreachable", schemaVersion: nil,
                    expectedSchemaVersion: expectedSchemaVersion, error: reason)
            }
            if let reason = gate.closedReason {
                // Reachable, but not usable yet: its migrations are running, or failed.
                let version = try? await withTimeout(seconds: probeTimeout) { try await inspector.schemaVersion() }
                return Health(
                    status: "degraded", database: "reachable", schemaVersion: version ?? nil,
                    expectedSchemaVersion: expectedSchemaVersion, error: reason)
            }
        }
        do {
            let version = try await withTimeout(seconds: probeTimeout) { try await inspector.schemaVersion() }
            let current = version == expectedSchemaVersion
            return Health(
                status: current ? "ok" : "degraded", database: "reachable", schemaVersion: version,
                expectedSchemaVersion: expectedSchemaVersion,
                error: current ? nil : "schema version \(version.map(String.init) ?? "none"), expected \(expectedSchemaVersion): run oms migrate")
        } catch {
            return Health(
                status: "degraded", database: "unreachable", schemaVersion: nil,
                expectedSchemaVersion: expectedSchemaVersion, error: error.readableDatabaseMessage)
        }
    }
}

/// The database did not answer in time.
struct TimeoutError: Error, CustomStringConvertible {
    var description: String { "the database did not answer in time" }
}

/// Runs `operation`, giving up after `seconds`.
func withTimeout<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TimeoutError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
