/// What one run of `oms_migrate_registry()` did (or, in a dry run, would do).
public struct RegistryMigrationReport: Codable, Sendable, Equatable {
    /// The run's row in `oms_registry_migration_runs` (nil in a dry run).
    public var runID: Int?
    public var dryRun: Bool
    /// Source rows read, per table.
    public var rowsRead: [String: Int]
    /// Distinct identity records the rows collapsed to.
    public var records: Int
    /// Label-propagation passes the grouping took.
    public var labelPasses: Int
    public var metersInserted: Int
    public var metersUpdated: Int
    public var metersUnchanged: Int
    public var mergedGroups: Int
    public var conflicts: Int
    /// Groups holding two or more registry meters, left for a person to resolve.
    public var duplicatesLeft: Int
    /// ONU serials carried by records of two or more meter numbers (an ONU serving several meters).
    public var sharedONUSerials: Int
    /// Source rows that name no meter number and join none, per table (e.g. ONU events of an unknown ONU).
    public var unplacedRecords: [String: Int]
    /// Source rows naming a customer id that `oms_customers` does not know.
    public var unknownCustomers: Int
    /// Seconds the database spent.
    public var seconds: Double
    /// The first merged groups (as many as the report limit).
    public var merges: [RegistryMergedGroup]
    /// The first conflicts (as many as the report limit).
    public var conflictDetails: [RegistryConflict]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", dryRun = "dry_run", rowsRead = "rows_read", records, labelPasses = "label_passes"
        case metersInserted = "meters_inserted", metersUpdated = "meters_updated", metersUnchanged = "meters_unchanged"
        case mergedGroups = "merged_groups", conflicts, duplicatesLeft = "duplicates_left"
        case sharedONUSerials = "shared_onu_serials", unplacedRecords = "unplaced_records"
        case unknownCustomers = "unknown_customers", seconds, merges, conflictDetails = "conflict_details"
    }

    /// Source rows read, all tables together.
    public var totalRowsRead: Int { rowsRead.values.reduce(0, +) }
}
