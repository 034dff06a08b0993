import Foundation
import Hummingbird
import OMSDomain
import OMSFeeds
import OMSStore
import PostgresNIO

/// The settings (`GET /api/v1/settings`, scope `read`; `PUT /api/v1/settings/{key}`, scope `admin`)
/// and manual meter status changes (`PUT /api/v1/meters/{meter_number}/status`, scope `admin`).
struct AdminController: Sendable {
    let queries: MeterQueries
    let keys: KeyCheck
    let maximumBodySize: Int

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        api.group("settings").add(middleware: RequireScope(scope: .read, keys: keys)).get { _, _ in
            APIResponse.items(try await queries.settingsJSON())
        }
        let admin = api.group().add(middleware: RequireScope(scope: .admin, keys: keys))
        admin.put("settings/:key") { request, context in
            let key = try context.parameters.require("key")
            let body = try await jsonObject(request)
            guard let object = body, let value = object["value"] else {
                throw Self.invalid("value", "the body must be a JSON object with the new \"value\"")
            }
            let valueJSON = String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
            do {
                return APIResponse.json(try await queries.setSetting(key, valueJSON: valueJSON))
            } catch let error as PSQLError where error.isState("P0002") {
                return try ProblemDetails.notFound("no setting \(key)").response()
            } catch let error as PSQLError where error.isState("22023") {
                throw Self.invalid("value", error.serverInfo?[.message] ?? "invalid")
            }
        }
        admin.put("meters/:meter_number/status") { request, context in
            let number = try context.parameters.require("meter_number")
            guard let object = try await jsonObject(request) else {
                throw Self.invalid(nil, "the body must be a JSON object: power_status, request_id, optional timestamp and note")
            }
            guard let status = object["power_status"] as? String else {
                throw Self.invalid("power_status", "required: on, off or unknown")
            }
            guard let requestID = object["request_id"] as? String, !requestID.isEmpty else {
                throw Self.invalid("request_id", "required: a client-chosen id, so that a retry is recognised")
            }
            var time: Date?
            if let text = object["timestamp"] {
                guard let string = text as? String, let parsed = ISO8601Time.parse(string) else {
                    throw Self.invalid("timestamp", "not an ISO 8601 time such as 2025-09-30T10:00:00Z")
                }
                time = parsed
            }
            let note = object["note"] as? String
            do {
                let (eventID, duplicate) = try await queries.setPowerStatus(number, status: status, requestID: requestID, at: time, note: note)
                let text = #"{"status_event_id":"\#(eventID.uuidString.lowercased())","duplicate":\#(duplicate)}"#
                return Response(
                    status: duplicate ? .ok : .created, headers: [.contentType: "application/json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
            } catch let error as PSQLError where error.isState("P0002") {
                return try ProblemDetails.notFound("no meter \(number)").response()
            } catch let error as PSQLError where error.isState("22023") {
                throw Self.invalid(error.serverInfo?[.columnName], error.serverInfo?[.message] ?? "invalid")
            }
        }
    }

    /// The body as a JSON object; nil when it is not one.
    func jsonObject(_ request: Request) async throws -> [String: Any]? {
        let data = Data(try await request.body.collect(upTo: maximumBodySize).readableBytesView)
        return (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
    }

    /// A refused body field (400, answered by `ProblemMiddleware`).
    static func invalid(_ field: String?, _ reason: String) -> InvalidInput {
        InvalidInput(field, reason, title: "Invalid request body")
    }
}
