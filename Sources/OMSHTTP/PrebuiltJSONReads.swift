import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OMSStore

/// The documented reads whose whole answer PostgreSQL builds: the seed's meter lookups
/// (`GET /api/v1/substations/{substation_id}/meters`, `/feeders/{feeder_id}/meters`), lists of
/// thousands of meters, and one meter (`GET /api/v1/meters/{meter_number}`), the most frequent
/// read. Answered here with that JSON (`oms_meter_list_json`, `oms_meter_json`) instead of by the
/// generated handlers, which decoded every row into the generated types and encoded it again:
/// 1,000 meters took 31 ms over HTTP against 3.7 ms in SQL (`oms bench scada`). Placed after the
/// key and query checks of the generated routes, so the scope, the refusals and the documents'
/// shapes (`MeterList`, `Meter`, checked against openapi.json by OpenAPITests) stay the operations'.
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
        return try await next(request, context)
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
