import Foundation
import Logging
import PostgresNIO

/// One record of a merged group, or the surviving meter, as `oms_migrate_registry()` reports it:
/// where it came from and the identities it carries (absent ones are nil).
public struct RegistryIdentity: Codable, Sendable, Equatable {
    /// registry, kaifa, call_center, onu, or the `source` of an `oms_registry_sources` row.
    public var source: String
    /// The registry meter, for records that are registry rows.
    public var meterID: UUID?
    public var meterNumber: String?
    public var onuID: String?
    public var onuSerial: String?
    public var assetMRID: String?
    public var usagePointMRID: String?
    /// The customer's business id (`oms_customers.customer_id`).
    public var customerID: String?
    public var locationLat: Double?
    public var locationLng: Double?
    /// How many source rows carried exactly these identities (nil for the survivor).
    public var rows: Int?

    enum CodingKeys: String, CodingKey {
        case source, meterID = "meter_id", meterNumber = "meter_number", onuID = "onu_id", onuSerial = "onu_serial"
        case assetMRID = "asset_mrid", usagePointMRID = "usage_point_mrid", customerID = "customer_id"
        case locationLat = "location_lat", locationLng = "location_lng", rows
    }
}

/// Records that the migration made one meter, and the meter that survived.
public struct RegistryMergedGroup: Codable, Sendable, Equatable {
    /// The group's number in the run (by surviving meter number).
    public var groupNumber: Int
    /// The surviving meter (nil in a dry run for a meter that would be inserted).
    public var meterID: UUID?
    public var meterNumber: String
    /// inserted, updated or unchanged.
    public var action: String
    /// The surviving meter's identities after the run.
    public var survivor: RegistryIdentity
    public var members: [RegistryIdentity]
    /// Other registry meters of the group, left in place ("duplicates left").
    public var duplicateMeterIDs: [UUID]

    enum CodingKeys: String, CodingKey {
        case groupNumber = "group_no", meterID = "meter_id", meterNumber = "meter_number", action, survivor, members
        case duplicateMeterIDs = "duplicate_meter_ids"
    }
}

/// A fact the records of one meter disagree on: never filled or overwritten.
public struct RegistryConflict: Codable, Sendable, Equatable {
    /// One of the differing values and the sources that gave it.
    public struct Candidate: Codable, Sendable, Equatable {
        public var value: String
        public var sources: [String]

        public init(value: String, sources: [String]) {
            self.value = value
            self.sources = sources
        }
    }

    public var groupNumber: Int
    public var meterID: UUID?
    public var meterNumber: String
    /// meter_number, onu_id, onu_serial_no, asset_mrid, usage_point_mrid, customer_id or location.
    public var field: String
    /// The meter's value after the run (nil: left empty).
    public var keptValue: String?
    public var values: [Candidate]

    enum CodingKeys: String, CodingKey {
        case groupNumber = "group_no", meterID = "meter_id", meterNumber = "meter_number", field
        case keptValue = "kept_value", values
    }
}

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

/// Builds or refreshes the registry from the feed tables through `oms_migrate_registry()`,
/// the same function psql users call.
public struct RegistryMigration: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Runs the migration (one transaction) and returns its report, with at most
    /// `reportLimit` merged groups and conflicts listed. A dry run writes nothing.
    public func run(dryRun: Bool = false, reportLimit: Int = 1_000) async throws -> RegistryMigrationReport {
        let limit = Int32(clamping: reportLimit)
        let rows = try await client.query(
            "SELECT oms_migrate_registry(\(dryRun), \(limit))::text", logger: logger)
        for try await json in rows.decode(String.self) {
            return try JSONDecoder().decode(RegistryMigrationReport.self, from: Data(json.utf8))
        }
        throw RegistryMigrationError.noReport
    }
}

/// The migration function answered without a report.
public enum RegistryMigrationError: Error, CustomStringConvertible {
    case noReport

    public var description: String { "oms_migrate_registry() returned no report" }
}
