import Foundation
import OMSStore

/// The numbered migrations 0001–0031 that built the schema before `Schema/` (test
/// resources in `LegacyMigrations/`): applied with a runner without current files, they
/// build a database exactly as the old `oms migrate` did.
enum LegacyChain {
    /// The legacy files, in version order; `upTo` keeps only those up to that version.
    static func migrations(upTo last: Int = .max) throws -> [Migration] {
        guard let folder = Bundle.module.url(forResource: "LegacyMigrations", withExtension: nil) else {
            throw MigrationError.missingResources
        }
        return try Migration.load(from: folder).filter { $0.version <= last }
    }
}
