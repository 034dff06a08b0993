import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OMSStore

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
        guard request.method == .get, let read = Self.read(request.uri.path) else { return try await next(request, context) }
        switch read {
        case .meterList(let scope, let code):
            return Self.json(try await meters.meterListJSON(scope, code: code))
        case .meter(let number):
            guard let json = try await meters.meterJSON(number) else { throw ProblemDetails.notFound("no meter \(number)") }
            return Self.json(json)
        case .history(let number):
            // (`limit` checked as a whole number by `DocumentedQueryCheck`, before.)
            let query = request.uri.queryParameters
            let limit = try PageLimit.checked(query["limit"].flatMap { Int($0) })
            do {
                return Self.json(try await meters.historyJSON(number, limit: limit, cursor: query["cursor"].map(String.init)))
            } catch {
                throw APIHandler.historyRefusal(error, meter: number)
            }
        }
    }

    static func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A read answered here, with its path's parameters (percent-decoded, as the generated routes
    /// decode them).
    enum Read: Equatable {
        /// `/api/v1/substations/{id}/meters` or `/api/v1/feeders/{id}/meters`.
        case meterList(MeterListScope, String)
        /// `/api/v1/meters/{meter_number}`.
        case meter(String)
        /// `/api/v1/meters/{meter_number}/history`.
        case history(String)
    }

    /// The read a path names; nil for any other path. Its segments are decoded once, for all of them.
    static func read(_ path: String) -> Read? {
        guard let parts = apiSegments(path) else { return nil }
        switch (parts.count, parts[0], parts.last) {
        case (2, "meters", _): return .meter(parts[1])
        case (3, "meters", "history"): return .history(parts[1])
        case (3, "substations", "meters"): return .meterList(.substation, parts[1])
        case (3, "feeders", "meters"): return .meterList(.feeder, parts[1])
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
