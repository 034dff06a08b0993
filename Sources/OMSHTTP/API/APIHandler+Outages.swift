import OMSAPI
import OMSStore
import OpenAPIRuntime
import PostgresNIO

/// Outages newest first (filtered, cursor pages), and one outage with its sources, timeline and meters.
extension APIHandler {
    func listOutages(_ input: Operations.ListOutages.Input) async throws -> Operations.ListOutages.Output {
        let query = input.query
        var filter = OutageFilter()
        // Statuses comma-separated, repeated, or both.
        let statuses = (query.status ?? []).flatMap { $0.split(separator: ",").map(String.init) }
        if !statuses.isEmpty { filter.statuses = statuses }
        filter.active = query.active
        filter.from = query.from
        filter.to = query.to
        filter.substation = query.substation
        let limit = try PageLimit.checked(query.limit)
        do {
            let rows = try await outages.list(filter, limit: limit + 1, cursor: query.cursor)
            let page = Array(rows.prefix(limit))
            let next = rows.count > limit ? page.last?.cursor ?? nil : nil
            return .ok(.init(body: .json(.init(items: page, nextCursor: try OpenAPIValueContainer(unvalidatedValue: next)))))
        } catch let error as PSQLError where error.isState("22023") {
            throw InvalidInput(error)
        }
    }

    func getOutage(_ input: Operations.GetOutage.Input) async throws -> Operations.GetOutage.Output {
        let eventID = input.path.eventId
        guard let detail = try await outages.detail(eventID: eventID) else { throw ProblemDetails.notFound("no outage \(eventID)") }
        return .ok(.init(body: .json(detail)))
    }
}
