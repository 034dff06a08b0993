import Hummingbird
import OMSStore

/// `GET /health`: the process answers (liveness: never depends on the database,
/// so that an orchestrator does not restart the service for a database outage).
/// `GET /ready`: whether the database is reachable at the schema version this
/// build expects (readiness: 503 otherwise). Neither needs an API key.
struct HealthController: Sendable {
    let inspector: SchemaInspector
    let expectedSchemaVersion: Int
    /// Seconds to wait for the database before reporting it unreachable.
    let probeTimeout: Double

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
            return EditedResponse(status: health.status == "ok" ? .ok : .serviceUnavailable, response: health)
        }
    }

    func check() async -> Health {
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
