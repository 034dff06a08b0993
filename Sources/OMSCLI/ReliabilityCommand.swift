import ArgumentParser
import Foundation
import OMSAPI
import OMSDomain
import OMSStore

/// `oms reliability`: IEEE 1366 indices for a period and a scope (`oms_reliability`).
struct ReliabilityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reliability",
        abstract: "IEEE 1366 reliability indices: SAIFI, SAIDI, CAIDI, CAIFI, ASAI, MAIFI, MAIFIe, with major event days (2.5 beta).",
        discussion: """
            Computed from the outages' restoration steps (cancelled and merged outages excluded), the same \
            function as GET /api/v1/reliability. An interruption counts in the period it started in.
            """
    )

    @Option(help: "Start of the period (ISO 8601 with a zone; default: a year before --to).") var from: String?
    @Option(help: "End of the period (default: now).") var to: String?
    @Option(help: "Only this substation (business id).") var substation: String?
    @Option(help: "Only this feeder (business id).") var feeder: String?
    @Flag(help: "Print the indices as JSON.") var json = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to)] where value.map({ ISO8601Time.parse($0) == nil }) ?? false {
            throw ValidationError("\(name) must be an ISO 8601 time with a zone, not \(value ?? "")")
        }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let indices = try await database.withDatabase(logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await OutageActions(client: client, logger: logger).reliability(
                    from: from.flatMap(ISO8601Time.parse), to: to.flatMap(ISO8601Time.parse), substation: substation,
                    feeder: feeder)
            }
        }
        if json {
            print(try JSONOutput.text(indices))
            return
        }
        func number(_ value: Double?, _ digits: Int = 4) -> String { value.map { String(format: "%.\(digits)f", $0) } ?? "-" }
        print("period \(ISO8601Time.text(indices.from)) to \(ISO8601Time.text(indices.to))"
              + (indices.substation.map { ", substation \($0)" } ?? "") + (indices.feeder.map { ", feeder \($0)" } ?? ""))
        print("customers served \(indices.customersServed); sustained interruptions \(indices.sustainedInterruptions) "
              + "(\(indices.customersInterrupted) customers interrupted, \(number(indices.customerMinutes, 1)) customer minutes); "
              + "momentary: \(indices.momentaryEvents) events, \(indices.momentaryInterruptions) interruptions")
        var table = TextTable(columns: ["SAIFI", "SAIDI min", "CAIDI min", "CAIFI", "ASAI", "MAIFI", "MAIFIe"])
        table.append([number(indices.saifi), number(indices.saidi, 3), number(indices.caidi, 2), number(indices.caifi),
                   number(indices.asai, 6), number(indices.maifi), number(indices.maifie)])
        print(table.render())
        print("major event days (2.5 beta, T_MED \(number(indices.tMed, 3)) min): "
              + (indices.majorEventDays.isEmpty ? "none" : indices.majorEventDays.joined(separator: ", "))
              + "; without them SAIFI \(number(indices.saifiExcludingMed)), SAIDI \(number(indices.saidiExcludingMed, 3)) min")
    }
}
