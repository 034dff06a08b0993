import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OMSStore
import PostgresNIO

/// The documented reads whose whole answer PostgreSQL builds: the seed's meter lookups
/// (`GET /api/v1/substations/{substation_id}/meters`, `/feeders/{feeder_id}/meters`), lists of
/// thousands of meters, one meter (`GET /api/v1/meters/{meter_number}`), the most frequent read,
/// and a page of its history (`…/history`, which the console reads for every meter it shows).
/// Answered here with that JSON (`oms_meter_list_json`, `oms_meter_json`, `oms_meter_history_json`)
/// instead of by the generated handlers, which decoded every row into the generated types and
/// encoded it again: 1,000 meters took 31 ms over HTTP against 3.7 ms in SQL (`oms bench scada`),
/// 100 history rows 10.4 ms (`oms bench api`). Placed after the key and query checks of the
/// generated routes, so the scope, the refusals and the documents' shapes (`MeterList`, `Meter`,
/// `HistoryPage`, checked against openapi.json by OpenAPITests) stay the operations'.
struct PrebuiltJSONReads<Context: RequestContext>: RouterMiddleware {
    let meters: MeterQueries

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.method == .get else { return try await next(request, context) }
        let path = request.uri.path
        if let (scope, code) = Self.meterList(path) {
            return Self.json(try await meters.meterListJSON(scope, code: code))
        }
        if let number = Self.meter(path) {
            guard let json = try await meters.meterJSON(number) else { throw ProblemDetails.notFound("no meter \(number)") }
            return Self.json(json)
        }
        if let number = Self.meterHistory(path) {
            let query = request.uri.queryParameters
            return Self.json(try await history(number, limit: query["limit"].map(String.init), cursor: query["cursor"].map(String.init)))
        }
        return try await next(request, context)
    }

    /// A page of a meter's history: `limit` (checked as a whole number by `DocumentedQueryCheck`)
    /// and `cursor` from the query; 404 for an unknown meter, 400 naming `cursor` for one that is not
    /// a cursor of this history (as the generated handler answers).
    func history(_ number: String, limit: String?, cursor: String?) async throws -> String {
        let limit = try PageLimit.checked(limit.flatMap { Int($0) })
        do {
            return try await meters.historyJSON(number, limit: limit, cursor: cursor)
        } catch let error as PSQLError where error.isState("P0002") {
            throw ProblemDetails.notFound("no meter \(number)")
        } catch let error as PSQLError where error.isState("22023") {
            throw InvalidInput("cursor", "not a cursor of this history: pass next_cursor from the previous page, unchanged")
        }
    }

    static func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// `/api/v1/meters/{meter_number}`: the number (percent-decoded); nil for any other path.
    static func meter(_ path: String) -> String? {
        guard let parts = apiSegments(path), parts.count == 2, parts[0] == "meters" else { return nil }
        return parts[1]
    }

    /// `/api/v1/meters/{meter_number}/history`: the number (percent-decoded); nil for any other path.
    static func meterHistory(_ path: String) -> String? {
        guard let parts = apiSegments(path), parts.count == 3, parts[0] == "meters", parts[2] == "history" else { return nil }
        return parts[1]
    }

    /// `/api/v1/substations/{id}/meters` or `/api/v1/feeders/{id}/meters`: the lookup and the id
    /// (percent-decoded, as the generated routes decode it); nil for any other path.
    static func meterList(_ path: String) -> (MeterListScope, String)? {
        guard let parts = apiSegments(path), parts.count == 3, parts[2] == "meters" else { return nil }
        switch parts[0] {
        case "substations": return (.substation, parts[1])
        case "feeders": return (.feeder, parts[1])
        default: return nil
        }
    }

    /// The segments of a path under `/api/v1/`, percent-decoded; nil for another path, or one with
    /// an empty or undecodable segment.
    static func apiSegments(_ path: String) -> [String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count > 3, parts[0].isEmpty, parts[1] == "api", parts[2] == "v1" else { return nil }
        let segments = parts.dropFirst(3).map { String($0).removingPercentEncoding }
        guard segments.allSatisfy({ $0?.isEmpty == false }) else { return nil }
        return segments.compactMap { $0 }
    }
}
