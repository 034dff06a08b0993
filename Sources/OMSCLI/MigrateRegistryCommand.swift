import ArgumentParser
import Foundation
import OMSStore

/// `oms migrate-registry`: builds or refreshes the meter registry from the feed tables
/// (`oms_migrate_registry()`), merging duplicates, and prints what it did.
struct MigrateRegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-registry",
        abstract: "Build or refresh the meter registry from the feed tables, merging duplicates; print each merged group and conflict.",
        discussion: """
            Reads the registry (oms_meters), oms_registry_sources (ONU inventory, CIS exports staged by an \
            integrator), KAIFA events, call-center tickets and ONU events. Records are one meter when they share \
            a meter number (case, spaces and separators ignored), an ONU serial (unless it serves several meters) \
            or an asset mRID, directly or through a chain. The survivor is the existing registry meter, else the \
            record of the most trusted source, else the lowest number. Missing facts are filled when every source \
            agrees; differing facts are reported as conflicts and never overwritten. One transaction; a second run \
            with the same sources changes nothing. The schema is migrated first.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Flag(name: .customLong("dry-run"), help: "Report what would change; write nothing.")
    var dryRun = false

    @Option(help: "List at most this many merged groups and conflicts (all are counted and kept in oms_registry_merges / oms_registry_conflicts).")
    var limit: Int = 100

    @Flag(help: "Print the report as JSON instead of text.")
    var json = false

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be 0 or more") }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let (dryRun, limit) = (dryRun, limit)
        let report = try await database.withDatabase(logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await MigrationRunner.bundled(logger: logger).migrate(client)
                return try await RegistryMigration(client: client, logger: logger).run(dryRun: dryRun, reportLimit: limit)
            }
        }
        if json {
            print(try JSONOutput.text(report))
        } else {
            print(Self.render(report))
        }
    }

    /// The report as text: counts, each merged group with its survivor and records, each conflict.
    static func render(_ report: RegistryMigrationReport) -> String {
        var lines: [String] = []
        let title = report.dryRun
            ? "registry migration, dry run: nothing written"
            : "registry migration run \(report.runID.map(String.init) ?? "?")"
        lines.append("\(title) (\(String(format: "%.2f", report.seconds)) s)")
        let tables = ["oms_meters", "oms_registry_sources", "kaifa_events", "callcenter_tickets", "onu_events"]
        lines.append("rows read: " + tables.map { "\($0) \(report.rowsRead[$0] ?? 0)" }.joined(separator: ", ")
            + "; \(report.records) distinct records, grouped in \(report.labelPasses) passes")
        let verb = report.dryRun ? "would be " : ""
        lines.append("meters: \(report.metersInserted) \(verb)inserted, \(report.metersUpdated) \(verb)updated, \(report.metersUnchanged) unchanged")
        lines.append("merged groups: \(report.mergedGroups), conflicts: \(report.conflicts), duplicates left: \(report.duplicatesLeft), shared ONU serials: \(report.sharedONUSerials)")
        let unplaced = report.unplacedRecords.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        if !unplaced.isEmpty {
            lines.append("unplaced (no meter number, joined to none): "
                + unplaced.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if report.unknownCustomers > 0 {
            lines.append("rows naming an unknown customer id (customer left out): \(report.unknownCustomers)")
        }

        if report.mergedGroups > 0 {
            lines.append("")
            lines.append("merged groups (survivor, then its records):")
            for group in report.merges {
                lines.append("  \(group.groupNumber). \(group.meterNumber)  \(group.action)  \(describe(group.survivor, withNumber: false))")
                for member in group.members {
                    let rows = (member.rows ?? 1) > 1 ? " (\(member.rows ?? 1) rows)" : ""
                    lines.append("       \(member.source.padding(toLength: 14, withPad: " ", startingAt: 0)) \(describe(member, withNumber: true))\(rows)")
                }
                if !group.duplicateMeterIDs.isEmpty {
                    lines.append("       duplicates left (registry meters of the same group): "
                        + group.duplicateMeterIDs.map { $0.uuidString.lowercased() }.joined(separator: ", "))
                }
            }
            if report.mergedGroups > report.merges.count {
                lines.append("  ... and \(report.mergedGroups - report.merges.count) more (--limit, or oms_registry_merges)")
            }
        }
        if report.conflicts > 0 {
            lines.append("")
            lines.append("conflicts (never overwritten):")
            for conflict in report.conflictDetails {
                let values = conflict.values.map { "\($0.value) (\($0.sources.joined(separator: ", ")))" }
                    .joined(separator: " / ")
                lines.append("  \(conflict.meterNumber)  \(conflict.field): kept \(conflict.keptValue ?? "nothing"); sources say \(values)")
            }
            if report.conflicts > report.conflictDetails.count {
                lines.append("  ... and \(report.conflicts - report.conflictDetails.count) more (--limit, or oms_registry_conflicts)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A record's identities on one line: "\"M001\"  onu ONU-1  serial HWTC00000001  asset A1".
    static func describe(_ identity: RegistryIdentity, withNumber: Bool) -> String {
        var parts: [String] = []
        if withNumber { parts.append(identity.meterNumber.map { "\"\($0)\"" } ?? "(no number)") }
        if let onu = identity.onuID { parts.append("onu \(onu)") }
        if let serial = identity.onuSerial { parts.append("serial \(serial)") }
        if let asset = identity.assetMRID { parts.append("asset \(asset)") }
        if let point = identity.usagePointMRID { parts.append("usage point \(point)") }
        if let customer = identity.customerID { parts.append("customer \(customer)") }
        if let lat = identity.locationLat, let lng = identity.locationLng { parts.append("at \(lat),\(lng)") }
        if !withNumber { parts.append("[from \(identity.source)]") }
        return parts.joined(separator: "  ")
    }
}
