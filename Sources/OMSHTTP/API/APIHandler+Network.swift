import OMSAPI
import OMSStore

/// `GET /api/v1/substations`, `/feeders` (with their meter counts: the seed's views), and the active
/// meters under a substation or feeder (the seed's `get_meters_by_*`).
extension APIHandler {
    func listSubstations(_ input: Operations.ListSubstations.Input) async throws -> Operations.ListSubstations.Output {
        .ok(.init(body: .json(.init(items: try await meters.substations()))))
    }

    func listFeeders(_ input: Operations.ListFeeders.Input) async throws -> Operations.ListFeeders.Output {
        let substation = input.query.substation
        return .ok(.init(body: .json(.init(items: try await meters.feeders(substation: substation)))))
    }

    // (Served by `PrebuiltJSONReads` in the application, which answers before this handler with
    // PostgreSQL's own JSON; this is the same answer through the generated types.)
    func listSubstationMeters(_ input: Operations.ListSubstationMeters.Input) async throws -> Operations.ListSubstationMeters.Output {
        let found = try await meters.metersBySubstation(input.path.substationId)
        return .ok(.init(body: .json(.init(count: found.count, meters: found))))
    }

    func listFeederMeters(_ input: Operations.ListFeederMeters.Input) async throws -> Operations.ListFeederMeters.Output {
        let found = try await meters.metersByFeeder(input.path.feederId)
        return .ok(.init(body: .json(.init(count: found.count, meters: found))))
    }
}
