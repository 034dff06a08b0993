/// Why migrations could not be read or applied. Each case reads as a sentence.
public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case missingResources
    case badFileName(String)
    case duplicateVersion(String, String)
    case changedAfterApply(fileName: String, recorded: String, current: String)
    case unknownApplied(version: Int, fileName: String)
    case legacyIncomplete(version: Int, fileName: String)
    case statementFailed(fileName: String, line: Int, message: String)
    case malformedScript(fileName: String, reason: String)

    public var description: String {
        switch self {
        case .missingResources:
            return "a resource folder of OMSStore (Schema or Fixtures) is missing from this build"
        case .badFileName(let name):
            return "schema file \(name) is not named NNNN_lowercase_name.sql (versioned) or NN_lowercase_name.sql (current)"
        case .duplicateVersion(let first, let second):
            return "schema files \(first) and \(second) have the same number"
        case .changedAfterApply(let fileName, let recorded, let current):
            return """
                migration \(fileName) was changed after it was applied to this database \
                (checksum recorded \(recorded.prefix(12))…, file now \(current.prefix(12))…); \
                an applied migration must never change: restore the file and add a new numbered migration instead
                """
        case .unknownApplied(let version, let fileName):
            return """
                this database has migration \(fileName) (version \(version)), which this build of oms does not know; \
                it was migrated by a newer oms: upgrade oms instead
                """
        case .legacyIncomplete(let version, let fileName):
            return """
                this database was migrated by an older oms only up to \(fileName) (version \(version)); \
                this build upgrades databases at \(LegacySchema.fileNames.last ?? "the last numbered migration"): \
                migrate it with the oms release that has the numbered migrations first
                """
        case .statementFailed(let fileName, let line, let message):
            return "migration \(fileName) failed at line \(line): \(message); nothing of this file was applied"
        case .malformedScript(let fileName, let reason):
            return "migration \(fileName) cannot be read: \(reason)"
        }
    }
}
