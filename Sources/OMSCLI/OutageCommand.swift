import ArgumentParser
import Foundation
import OMSAPI
import OMSDomain
import OMSStore

/// `oms outage ACTION EVENT_ID`: an operator action on an outage, through the same SQL function as
/// `POST /api/v1/outages/{event_id}/actions` (`oms_outage_act`); then the outage as it is now.
struct OutageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outage",
        abstract: "An operator action on an outage: acknowledge, confirm, assign, etr, restore, cancel, merge, split, close.",
        discussion: """
            Each action is allowed from some statuses only (the table is in ARCHITECTURE.md, "Outage \
            states"); a refused one says which status the outage is in, and changes nothing. The action is \
            in the outage's timeline with --actor (default: the user running oms) and the time.
              oms outage acknowledge OMS_SCADA_1768478513_21ef9cbd
              oms outage assign OMS_SCADA_1768478513_21ef9cbd --crew "Crew 7"
              oms outage etr OMS_SCADA_1768478513_21ef9cbd --at 2026-01-15T16:00:00Z
              oms outage merge OMS_ONU_1768478481_af653128 --into OMS_SCADA_1768478513_21ef9cbd
              oms outage split OMS_ROLLUP_1768479296_19d97d0f --device SS004-FD07-DP001
              oms outage restore OMS_SCADA_1768478513_21ef9cbd --at 2026-01-15T14:02:00Z
              oms outage close OMS_SCADA_1768478513_21ef9cbd --cause vegetation --remark "tree on line"
            """
    )

    /// The actions, as `oms_outage_actions()` names them.
    enum Action: String, CaseIterable, ExpressibleByArgument {
        case acknowledge, confirm, assign, etr, restore, cancel, merge, split, close
    }

    /// What the action takes, as the API's body has it.
    struct Arguments: Encodable {
        var crew: String?
        var at: String?
        var into: String?
        var device: String?
        var meters: [String]?
        var cause: String?
        var remark: String?
    }

    @Argument(help: "The action: \(Action.allCases.map(\.rawValue).joined(separator: ", ")).")
    var action: Action

    @Argument(help: "The outage's event id (OMS_...).")
    var eventID: String

    @Option(help: "assign: the crew.") var crew: String?
    @Option(help: "etr: the estimated restoration time; restore: when power came back (ISO 8601 with a zone).") var at: String?
    @Option(help: "merge: the event id of the active outage this one joins.") var into: String?
    @Option(help: "split: the distribution point or feeder whose meters move to a new outage.") var device: String?
    @Option(help: "split: a meter number that moves to a new outage (repeat for several).") var meter: [String] = []
    @Option(help: "close: the cause code (see oms_cause_codes).") var cause: String?
    @Option(help: "A remark, kept with the outage.") var remark: String?
    @Option(help: "Who acts, for the timeline (default: the user running oms).") var actor: String?
    @Flag(help: "Print the outage as JSON.") var json = false

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = database.makeLogger()
        let arguments = Arguments(crew: crew, at: at, into: into, device: device, meters: meter.isEmpty ? nil : meter,
                                  cause: cause, remark: remark)
        let encoded = String(decoding: try JSONEncoder().encode(arguments), as: UTF8.self)
        let who = actor ?? ProcessInfo.processInfo.environment["USER"] ?? "oms"
        let detail = try await database.withDatabase(logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                let code = try await OutageActions(client: client, logger: logger)
                    .act(eventID: eventID, action: action.rawValue, actor: who, arguments: encoded)
                return try await OutageQueries(client: client, logger: logger).detail(eventID: code)
            }
        }
        guard let detail else { throw ValidationError("no outage \(eventID)") }
        if json {
            print(try JSONOutput.text(detail))
        } else {
            let outage = detail.value1
            var line = "\(outage.eventId): \(outage.status.rawValue), \(outage.customersOut) of \(outage.affectedCustomersCount) customers out"
            if let crew = outage.crew { line += ", crew \(crew)" }
            if let cause = outage.causeCode { line += ", cause \(cause)" }
            print(line)
            if let last = detail.value2.timeline.last {
                print("  \(last.description ?? last.eventType)")
            }
        }
    }
}
