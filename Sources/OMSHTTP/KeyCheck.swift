import Foundation
import OMSStore
import Synchronization

/// The API key check of every request: `oms_api_key_authenticate` once per key, then a
/// remembered answer for up to a minute. A revocation is announced by the database
/// (`api_key.revoked` on `oms_events`, migration 0025) and `LiveEventHub` forgets the key at
/// once, on every instance; the minute bounds how long a missed announcement could matter, and
/// the hub forgets everything whenever it (re)starts listening.
public final class KeyCheck: Sendable {
    let store: APIKeyStore
    /// How long a key in force is taken on trust.
    static let timeToLive = Duration.seconds(60)
    /// More remembered keys than this and the memory starts over.
    static let capacity = 10_000
    private let remembered = Mutex<[String: (key: AuthenticatedKey, until: ContinuousClock.Instant)]>([:])

    public init(store: APIKeyStore) {
        self.store = store
    }

    /// The key in force that `key` is, or nil.
    func authenticate(_ key: String) async throws -> AuthenticatedKey? {
        let now = ContinuousClock.now
        if let known = remembered.withLock({ $0[key] }), known.until > now { return known.key }
        guard let found = try await store.authenticate(key) else { return nil }
        remembered.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll() }
            entries[key] = (found, now + Self.timeToLive)
        }
        return found
    }

    /// Forgets the key with this id (revoked).
    func forget(id: UUID) {
        remembered.withLock { entries in entries = entries.filter { $0.value.key.id != id } }
    }

    /// Forgets every key.
    func forgetAll() {
        remembered.withLock { $0.removeAll() }
    }
}
