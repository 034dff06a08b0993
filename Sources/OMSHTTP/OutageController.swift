import Hummingbird
import OMSDomain
import OMSFeeds
import OMSStore
import PostgresNIO

/// `GET /api/v1/outages?status=&active=&from=&to=&substation=&limit=&cursor=` (newest first, cursor
/// pages) and `GET /api/v1/outages/{event_id}` (with its sources, timeline and meters). Scope `read`.
struct OutageController: Sendable {
    let queries: OutageQueries
    let keys: KeyCheck

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        let group = api.group("outages").add(middleware: RequireScope(scope: .read, keys: keys))
        group.get { request, _ in
            let query = request.uri.queryParameters
            var filter = OutageFilter()
            let statuses = query.getAll("status").flatMap { $0.split(separator: ",").map { String($0) } }
            if !statuses.isEmpty { filter.statuses = statuses }
            if let active = query["active"].map(String.init) {
                guard let value = Bool(active) else { throw InvalidInput("active", "\(active) is not true or false") }
                filter.active = value
            }
            for name in ["from", "to"] {
                guard let text = query[name[...]].map(String.init) else { continue }
                guard let date = ISO8601Time.parse(text) else {
                    throw InvalidInput(name, "\(text) is not an ISO 8601 time such as 2025-09-30T10:00:00Z")
                }
                if name == "from" { filter.from = date } else { filter.to = date }
            }
            filter.substation = query["substation"].map(String.init)
            let limit = try request.pageLimit()
            do {
                let rows = try await queries.listJSON(filter, limit: limit + 1, cursor: query["cursor"].map(String.init))
                return APIResponse.page(rows, limit: limit)
            } catch let error as PSQLError where error.isState("22023") {
                throw InvalidInput(error)
            }
        }
        group.get(":event_id") { _, context in
            let eventID = try context.parameters.decoded("event_id")
            guard let json = try await queries.detailJSON(eventID: eventID) else {
                return try ProblemDetails.notFound("no outage \(eventID)").response()
            }
            return APIResponse.json(json)
        }
    }
}
