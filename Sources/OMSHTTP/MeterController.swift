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

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        let group = api.group("meters").add(middleware: RequireScope(scope: .read, keys: keys))
        group.get(":meter_number") { _, context in
            let number = try context.parameters.decoded("meter_number")
            guard let json = try await queries.meterJSON(number) else {
                return try ProblemDetails.notFound("no meter \(number)").response()
            }
            return APIResponse.json(json)
        }
        group.get(":meter_number/history") { request, context in
            let number = try context.parameters.decoded("meter_number")
            let limit = try request.pageLimit()
            let cursor = request.uri.queryParameters["cursor"].map(String.init)
            do {
                // One row more than the page tells whether there is a next one.
                return APIResponse.page(try await queries.historyJSON(number, limit: limit + 1, cursor: cursor), limit: limit)
            } catch let error as PSQLError where error.isState("P0002") {
                return try ProblemDetails.notFound("no meter \(number)").response()
            } catch let error as PSQLError where error.isState("22023") {
                throw InvalidInput("cursor", "not a cursor of this history: pass next_cursor from the previous page, unchanged")
            }
        }
    }

    /// `GET /api/v1/proximity/meters?lat=&lng=&radius_km=&limit=`: active meters within the radius,
    /// nearest first (`oms_meters_within`, through the GiST index), at most `limit` (100; up to 1000).
    func addProximityRoute(to api: RouterGroup<some RequestContext>) {
        api.group("proximity").add(middleware: RequireScope(scope: .read, keys: keys)).get("meters") { request, _ in
            let query = request.uri.queryParameters
            var numbers: [String: Double] = [:]
            for name in ["lat", "lng", "radius_km"] {
                guard let text = query[name[...]].map(String.init), let value = Double(text), value.isFinite else {
                    throw InvalidInput(name, "required: a number (lat -90..90, lng -180..180, radius_km > 0)")
                }
                numbers[name] = value
            }
            let limit = try request.pageLimit("count")
            do {
                let rows = try await queries.metersWithinJSON(
                    latitude: numbers["lat"]!, longitude: numbers["lng"]!, radiusKm: numbers["radius_km"]!, limit: limit)
                return APIResponse.json(#"{"count":\#(rows.count),"items":["# + rows.joined(separator: ",") + "]}")
            } catch let error as PSQLError where error.isState("22023") {
                throw InvalidInput(error)
            }
        }
    }
}
