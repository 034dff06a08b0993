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
                guard let value = Bool(active) else { return try MeterController.badParameter("active", "\(active) is not true or false") }
                filter.active = value
            }
            for name in ["from", "to"] {
                guard let text = query[name[...]].map(String.init) else { continue }
                guard let date = ISO8601Time.parse(text) else {
                    return try MeterController.badParameter(name, "\(text) is not an ISO 8601 time such as 2025-09-30T10:00:00Z")
                }
                if name == "from" { filter.from = date } else { filter.to = date }
            }
            filter.substation = query["substation"].map(String.init)
            let limitText = query["limit"].map(String.init)
            guard let limit = limitText.map({ Int($0) }) ?? 100, (1...MeterController.maximumPageSize).contains(limit) else {
                return try MeterController.badParameter("limit", "\(limitText ?? "") is not a page size from 1 to \(MeterController.maximumPageSize)")
            }
            do {
                let rows = try await queries.listJSON(filter, limit: limit + 1, cursor: query["cursor"].map(String.init))
                return MeterController.page(rows, limit: limit)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "22023" {
                let column = error.serverInfo?[.columnName] ?? ""
                let parameter = column.hasPrefix("p_") ? String(column.dropFirst(2)) : column
                return try MeterController.badParameter(parameter, error.serverInfo?[.message] ?? "invalid")
            }
        }
        group.get(":event_id") { _, context in
            let eventID = try context.parameters.require("event_id")
            guard let json = try await queries.detailJSON(eventID: eventID) else {
                return try ProblemDetails(type: "/problems/not-found", title: "Not Found", status: 404, detail: "no outage \(eventID)").response()
            }
            return MeterController.json(json)
        }
    }
}
