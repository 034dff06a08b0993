import Hummingbird
import NIOCore
import OMSDomain
import OMSStore
import PostgresNIO

/// `GET /api/v1/meters/{meter_number}` (the meter with its topology, customer and status) and
/// `GET /api/v1/meters/{meter_number}/history?limit=N&cursor=C` (its status changes, newest first,
/// by cursor pages). Scope `read`. The JSON is the database's own rows (`oms_meters_with_topology`,
/// `oms_meter_history`): the same names psql users see.
struct MeterController: Sendable {
    let queries: MeterQueries
    let keys: KeyCheck
    /// The largest page a client may ask for.
    static let maximumPageSize = 1000

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        let group = api.group("meters").add(middleware: RequireScope(scope: .read, keys: keys))
        group.get(":meter_number") { _, context in
            let number = try context.parameters.require("meter_number")
            guard let json = try await queries.meterJSON(number) else {
                return try ProblemDetails(type: "/problems/not-found", title: "Not Found", status: 404, detail: "no meter \(number)").response()
            }
            return Self.json(json)
        }
        group.get(":meter_number/history") { request, context in
            let number = try context.parameters.require("meter_number")
            let limitText = request.uri.queryParameters["limit"].map(String.init)
            guard let limit = limitText.map({ Int($0) }) ?? 100, (1...Self.maximumPageSize).contains(limit) else {
                return try Self.badParameter("limit", "\(limitText ?? "") is not a page size from 1 to \(Self.maximumPageSize)")
            }
            let cursor = request.uri.queryParameters["cursor"].map(String.init)
            do {
                // One row more than the page tells whether there is a next one.
                let rows = try await queries.historyJSON(number, limit: limit + 1, cursor: cursor)
                return Self.page(rows, limit: limit)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "P0002" {
                return try ProblemDetails(type: "/problems/not-found", title: "Not Found", status: 404, detail: "no meter \(number)").response()
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "22023" {
                return try Self.badParameter("cursor", "not a cursor of this history: pass next_cursor from the previous page, unchanged")
            }
        }
    }

    /// `{"items": [...], "next_cursor": ...}` from up to `limit + 1` rows: a row beyond the page means there is a next one.
    static func page(_ rows: [(json: String, cursor: String)], limit: Int) -> Response {
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { "\"\($0.cursor)\"" } ?? "null" : "null"
        return json(#"{"items":["# + page.map(\.json).joined(separator: ",") + #"],"next_cursor":"# + next + "}")
    }

    /// `GET /api/v1/proximity/meters?lat=&lng=&radius_km=&limit=`: active meters within the radius,
    /// nearest first (`oms_meters_within`, through the GiST index), at most `limit` (100; up to 1000).
    func addProximityRoute(to api: RouterGroup<some RequestContext>) {
        api.group("proximity").add(middleware: RequireScope(scope: .read, keys: keys)).get("meters") { request, _ in
            let query = request.uri.queryParameters
            var numbers: [String: Double] = [:]
            for name in ["lat", "lng", "radius_km"] {
                guard let text = query[name[...]].map(String.init), let value = Double(text), value.isFinite else {
                    return try Self.badParameter(name, "required: a number (lat -90..90, lng -180..180, radius_km > 0)")
                }
                numbers[name] = value
            }
            let limitText = query["limit"].map(String.init)
            guard let limit = limitText.map({ Int($0) }) ?? 100, (1...Self.maximumPageSize).contains(limit) else {
                return try Self.badParameter("limit", "\(limitText ?? "") is not a count from 1 to \(Self.maximumPageSize)")
            }
            do {
                let rows = try await queries.metersWithinJSON(
                    latitude: numbers["lat"]!, longitude: numbers["lng"]!, radiusKm: numbers["radius_km"]!, limit: limit)
                return Self.json(#"{"count":\#(rows.count),"items":["# + rows.joined(separator: ",") + "]}")
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "22023" {
                let column = error.serverInfo?[.columnName] ?? ""
                return try Self.badParameter(column.hasPrefix("p_") ? String(column.dropFirst(2)) : column, error.serverInfo?[.message] ?? "invalid")
            }
        }
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func badParameter(_ name: String, _ reason: String) throws -> Response {
        try ProblemDetails(
            type: "/problems/invalid-input", title: "Invalid query parameter", status: 400, detail: "\(name): \(reason)",
            errors: [ProblemDetails.FieldError(index: nil, field: name, reason: reason)]
        ).response()
    }
}
