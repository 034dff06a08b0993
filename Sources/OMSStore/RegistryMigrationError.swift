/// The migration function answered without a report.
public enum RegistryMigrationError: Error, CustomStringConvertible {
    case noReport

    public var description: String { "oms_migrate_registry() returned no report" }
}
