import OMSAPI
import OMSStore

/// What `GET /ready` answers: whether the database is reachable at the schema version this build
/// expects (readiness: 503 otherwise, with the reason: the server's words when it refused the
/// connection, or what the connection attempt met), and then the feed intake's backlog.
/// `GET /health` (liveness) never asks it: an orchestrator must not restart the service for a
/// database outage.
struct HealthCheck: Sendable {
    let inspector: SchemaInspector
    let expectedSchemaVersion: Int
    /// Seconds to wait for the database before reporting it unreachable.
    let probeTimeout: Double
    /// The application's gate: its check (one connection outside the pool) names why the
    /// database cannot be used, where the pool would only time out.
    var gate: DatabaseGate? = nil
    /// The feed intake, whose backlog a ready answer reports.
    var intake: FeedIntake? = nil

    func check() async -> Components.Schemas.Ready {
        func degraded(_ database: Components.Schemas.Ready.DatabasePayload, version: Int?, _ reason: String) -> Components.Schemas.Ready {
            .init(database: database, error: reason, expectedSchemaVersion: expectedSchemaVersion, schemaVersion: version, status: .degraded)
        }
        if let gate {
            let reach = await gate.check(maxAge: .seconds(1), within: .milliseconds(Int(probeTimeout * 1000)))
            switch reach {
            case .unreachable(let why): return degraded(.unreachable, version: nil, why)
            case nil: return degraded(.unreachable, version: nil, "the database did not answer within \(probeTimeout) s")
            case .reachable: break
            }
            if let reason = gate.closedReason {
                // Reachable, but not usable yet: its migrations are running, or failed.
                let version = try? await withTimeout(seconds: probeTimeout) { try await inspector.schemaVersion() }
                return degraded(.reachable, version: version ?? nil, reason)
            }
        }
        do {
            let version = try await withTimeout(seconds: probeTimeout) { try await inspector.schemaVersion() }
            guard version == expectedSchemaVersion else {
                return degraded(
                    .reachable, version: version,
                    "schema version \(version.map(String.init) ?? "none"), expected \(expectedSchemaVersion): run oms migrate")
            }
            // The feed intake's backlog, for whoever watches readiness (not a reason to be unready:
            // a storm's backlog is worked off, and answers meanwhile are durable).
            let backlog = try? await withTimeout(seconds: probeTimeout) { try await intake?.backlog() }
            return .init(
                database: .reachable, expectedSchemaVersion: expectedSchemaVersion, intakeBacklogEvents: backlog?.events,
                intakeOldestSeconds: backlog?.oldestSeconds, schemaVersion: version, status: .ok)
        } catch {
            return degraded(.unreachable, version: nil, error.readableDatabaseMessage)
        }
    }
}
