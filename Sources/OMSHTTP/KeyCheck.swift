import Foundation
import OMSStore
import Synchronization

/// The API key check of every request: `oms_api_key_authenticate` once per key (or
/// `oms_console_session_authenticate` once per console session), then a remembered answer for up
/// to a minute (never past a session's end). A revocation is announced by the database
/// (`api_key.revoked` on `oms_events`, migration 0025) and `LiveEventHub` forgets the key at
/// once, on every instance (a console sign-out too: `console_session.ended`); the minute bounds how long a missed announcement could matter, and
/// the hub forgets everything whenever it (re)starts listening.
///
/// It also holds what guards the check: the `DatabaseGate` (an unknown key while the database is
/// unreachable is answered 503 at once, not after the pool's minute; remembered keys keep working
/// for their minute) and the `FailedKeyLimiter` (failed checks limited per client address).
public final class KeyCheck: Sendable {
    let store: APIKeyStore
    let sessions: ConsoleStore
    /// Whether the database can be used now; every route that needs it goes through it
    /// (`RequireScope`). Nil: requests go straight to the pool (a router built only to list routes).
    public let gate: DatabaseGate?
    /// Failed key checks per client address.
    public let limiter: FailedKeyLimiter
    /// How long a key in force is taken on trust.
    static let timeToLive = Duration.seconds(60)
    /// More remembered keys than this and the memory starts over.
    static let capacity = 10_000
    private let remembered = Mutex<[String: (key: AuthenticatedKey, until: ContinuousClock.Instant)]>([:])

    /// `gate`: the application's (`buildApplication` makes one).
    public init(store: APIKeyStore, gate: DatabaseGate? = nil, limiter: FailedKeyLimiter = FailedKeyLimiter()) {
        self.store = store
        self.sessions = store.consoleSessions
        self.gate = gate
        self.limiter = limiter
    }

    /// The key, if it was checked and found in force within the last minute (no database).
    func remembered(_ credential: Credential) -> AuthenticatedKey? {
        let now = ContinuousClock.now
        if let known = remembered.withLock({ $0[credential.memoryKey] }), known.until > now { return known.key }
        return nil
    }

    /// The key in force that `credential` is (or whose session it is), or nil: remembered, else
    /// asked of the database through the gate (503 at once while the database is unreachable).
    func authenticate(_ credential: Credential) async throws -> AuthenticatedKey? {
        if let known = remembered(credential) { return known }
        let now = ContinuousClock.now
        let found: AuthenticatedKey? = try await guarded {
            switch credential {
            case .key(let key): try await self.store.authenticate(key)
            case .session(let token): try await self.sessions.authenticateSession(token)
            }
        }
        guard let found else { return nil }
        remember(found, as: credential, now: now)
        return found
    }

    /// Remembers a key (or session) found in force, for a minute at most and never past the
    /// session's end.
    func remember(_ key: AuthenticatedKey, as credential: Credential, now: ContinuousClock.Instant = .now) {
        var lifetime = Self.timeToLive
        if let ends = key.session?.expiresAt {
            lifetime = min(lifetime, .milliseconds(Int64(max(0, ends.timeIntervalSinceNow) * 1000)))
        }
        remembered.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll() }
            entries[credential.memoryKey] = (key, now + lifetime)
        }
    }

    /// Runs `operation`, which needs the database, through the gate (directly without one).
    func guarded<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        guard let gate else { return try await operation() }
        return try await gate.guarded(operation)
    }

    /// Runs `operation` through the gate's `guardedInBackground`: the caller is answered as soon as
    /// the database is found unusable, the operation finishing unobserved (directly without a gate).
    func guardedInBackground<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let gate else { return try await operation() }
        return try await gate.guardedInBackground(operation)
    }

    /// Throws `DatabaseUnavailable` while the gate is closed.
    func admit() throws {
        try gate?.admit()
    }

    /// Forgets the key with this id (revoked), and its sessions.
    func forget(id: UUID) {
        remembered.withLock { entries in entries = entries.filter { $0.value.key.id != id } }
    }

    /// Forgets the console session with this id (signed out).
    func forget(sessionID: UUID) {
        remembered.withLock { entries in entries = entries.filter { $0.value.key.session?.id != sessionID } }
    }

    /// Forgets a credential (a session signed out here).
    func forget(_ credential: Credential) {
        _ = remembered.withLock { $0.removeValue(forKey: credential.memoryKey) }
    }

    /// Forgets every key.
    func forgetAll() {
        remembered.withLock { $0.removeAll() }
    }
}
