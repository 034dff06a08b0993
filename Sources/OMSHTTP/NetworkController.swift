import Hummingbird
import OMSDomain
import OMSStore

/// `GET /api/v1/substations` and `GET /api/v1/feeders?substation=` (with their meter counts: the
/// seed's views), `GET /api/v1/substations/{substation_id}/meters` and `GET /api/v1/feeders/{feeder_id}/meters`
/// (the active meters under a substation or feeder: the seed's `get_meters_by_*`). Scope `read`.
struct NetworkController: Sendable {
    let queries: MeterQueries
    let keys: KeyCheck

    /// The body of both routes.
    struct Meters: Encodable {
        var count: Int
        var meters: [MeterSummary]
    }

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        let group = api.group().add(middleware: RequireScope(scope: .read, keys: keys))
        group.get("substations") { _, _ in
            APIResponse.items(try await queries.substationsJSON())
        }
        group.get("feeders") { request, _ in
            let substation = request.uri.queryParameters["substation"].map(String.init)
            return APIResponse.items(try await queries.feedersJSON(substation: substation))
        }
        group.get("substations/:substation_id/meters") { _, context in
            let id = try context.parameters.decoded("substation_id")
            let meters = try await queries.metersBySubstation(id)
            return try JSONResponse.make(Meters(count: meters.count, meters: meters), status: .ok)
        }
        group.get("feeders/:feeder_id/meters") { _, context in
            let id = try context.parameters.decoded("feeder_id")
            let meters = try await queries.metersByFeeder(id)
            return try JSONResponse.make(Meters(count: meters.count, meters: meters), status: .ok)
        }
    }
}
