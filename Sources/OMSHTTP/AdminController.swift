import Foundation
import Hummingbird
import Logging
import OMSDomain
import OMSFeeds
import OMSStore
import PostgresNIO

/// The settings (`GET /api/v1/settings`, scope `read`; `PUT /api/v1/settings/{key}`, scope `admin`)
/// and manual meter status changes (`PUT /api/v1/meters/{meter_number}/status`, scope `admin`).
///
/// Both writes are checked by the database (a setting's type and range, a plausible time, a request id
/// naming one change) and answered 400 naming the field or bound, 409 for a request id reused for another
/// change. Each write is logged at notice level with the API key's id (`api_key`, from `RequireScope`) and
/// what changed.
struct AdminController: Sendable {
    let queries: MeterQueries
    let keys: KeyCheck
    /// How large a body may be and how long it may take to arrive.
    let bodyLimits: BodyLimits

    func addRoutes(to api: RouterGroup<some RequestContext>) {
        api.group("settings").add(middleware: RequireScope(scope: .read, keys: keys)).get { _, _ in
            APIResponse.items(try await queries.settingsJSON())
        }
        let admin = api.group().add(middleware: RequireScope(scope: .admin, keys: keys))
        admin.put("settings/:key") { request, context in
            try await setSetting(request: request, context: context)
        }
        admin.put("meters/:meter_number/status") { request, context in
            try await setPowerStatus(request: request, context: context)
        }
    }

    /// `PUT /api/v1/settings/{key}` `{"value": …}`: 200 with the setting now (and `previous_value`).
    func setSetting(request: Request, context: some RequestContext) async throws -> Response {
        let key = try context.parameters.decoded("key")
        guard !key.contains("\u{0}") else { throw Self.invalid("key", "must not contain NUL (U+0000)") }
        let body = try await jsonObject(request)
        guard let object = body, let value = object["value"] else {
            throw Self.invalid("value", "the body must be a JSON object with the new \"value\"")
        }
        guard !Self.containsNUL(value) else { throw Self.invalid("value", "must not contain NUL (U+0000)") }
        let valueJSON = String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
        let change: SettingChange
        do {
            change = try await queries.setSetting(key, valueJSON: valueJSON)
        } catch let error as PSQLError where error.isState("P0002") {
            return try ProblemDetails.notFound("no setting \(key)").response()
        } catch let error as PSQLError where error.isDataException {
            // 22023 names the bound ("onu.confidence must be a number from 0 to 1, not 1.5").
            throw Self.invalid(error.serverInfo?[.columnName] ?? "value", error.serverInfo?[.message] ?? "invalid")
        }
        context.logger.notice("setting \(key) changed: \(change.previousValue) -> \(change.value)", metadata: [
            "setting": "\(key)", "previous_value": "\(change.previousValue)", "value": "\(change.value)",
        ])
        return APIResponse.json(change.json)
    }

    /// `PUT /api/v1/meters/{meter_number}/status`: 201 applied; 200 stored but not applied (older than the
    /// meter's newer state) or a repeat of the request id; 409 for a request id used for another change.
    func setPowerStatus(request: Request, context: some RequestContext) async throws -> Response {
        let number = try context.parameters.decoded("meter_number")
        guard !number.contains("\u{0}") else { throw Self.invalid("meter_number", "must not contain NUL (U+0000)") }
        guard let object = try await jsonObject(request) else {
            throw Self.invalid(nil, "the body must be a JSON object: power_status, request_id, optional timestamp and note")
        }
        for field in ["power_status", "request_id", "timestamp", "note"] where object[field].map(Self.containsNUL) == true {
            throw Self.invalid(field, "must not contain NUL (U+0000)")
        }
        guard let status = object["power_status"] as? String else {
            throw Self.invalid("power_status", "required: on, off or unknown")
        }
        guard let requestID = object["request_id"] as? String, !requestID.isEmpty else {
            throw Self.invalid("request_id", "required: a client-chosen id, so that a retry is recognised")
        }
        var time: Date?
        if let text = object["timestamp"], !(text is NSNull) {
            guard let string = text as? String, let parsed = ISO8601Time.parse(string) else {
                throw Self.invalid("timestamp", "not an ISO 8601 time such as 2025-09-30T10:00:00Z")
            }
            time = parsed
        }
        var note: String?
        if let value = object["note"], !(value is NSNull) {
            guard let text = value as? String else { throw Self.invalid("note", "must be a string") }
            note = text
        }
        let change: ManualStatusChange
        do {
            change = try await queries.setPowerStatus(number, status: status, requestID: requestID, at: time, note: note)
        } catch let error as PSQLError where error.isState("P0002") {
            return try ProblemDetails.notFound("no meter \(number)").response()
        } catch let error as PSQLError where error.isState("23505") {
            let reason = error.serverInfo?[.message] ?? "the request id was used for another change"
            return try ProblemDetails(
                type: "/problems/conflict", title: "Conflict", status: 409, detail: reason,
                errors: [.init(field: "request_id", reason: reason)]
            ).response()
        } catch let error as PSQLError where error.isDataException {
            throw Self.invalid(error.serverInfo?[.columnName], error.serverInfo?[.message] ?? "invalid")
        }

        let result = StatusChangeResult(change)
        let what = "meter \(number) power \(status) (request \(requestID))"
        let metadata: Logger.Metadata = [
            "meter_number": "\(number)", "power_status": "\(status)", "request_id": "\(requestID)",
            "status_event_id": "\(change.statusEventID.uuidString.lowercased())", "applied": "\(change.applied)",
            "duplicate": "\(change.duplicate)",
        ]
        if change.duplicate {
            context.logger.notice("manual status change \(what): a repeat, nothing changed", metadata: metadata)
        } else if change.applied {
            context.logger.notice("manual status change \(what): applied", metadata: metadata)
        } else {
            context.logger.notice("manual status change \(what): stored, not applied (late)", metadata: metadata)
        }
        return try JSONResponse.make(result, status: change.duplicate || !change.applied ? .ok : .created)
    }

    /// The answer to a manual status change.
    struct StatusChangeResult: Encodable {
        var statusEventID: String
        /// The request id was seen before: nothing changed.
        var duplicate: Bool
        /// false: the change was older than the meter's newer state; it is in the audit trail, not applied.
        var applied: Bool
        /// When not applied: the time of the meter's newer state.
        var newerStateAt: Date?
        /// When not applied: what that means.
        var detail: String?

        init(_ change: ManualStatusChange) {
            statusEventID = change.statusEventID.uuidString.lowercased()
            duplicate = change.duplicate
            applied = change.applied
            newerStateAt = change.applied ? nil : change.newerStateAt
            if !change.applied {
                detail = "stored in the audit trail but not applied: the meter's state dates from "
                    + (change.newerStateAt.map { ISO8601DateFormatter().string(from: $0) } ?? "a later time")
                    + ", after this change's time"
            }
        }

        enum CodingKeys: String, CodingKey {
            case statusEventID = "status_event_id", duplicate, applied, newerStateAt = "newer_state_at", detail
        }
    }

    /// The body as a JSON object; nil when it is not one.
    func jsonObject(_ request: Request) async throws -> [String: Any]? {
        let data = Data(try await request.collectBody(bodyLimits).readableBytesView)
        return (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
    }

    /// Whether a decoded JSON value holds U+0000 in any string or key (PostgreSQL text cannot hold it).
    static func containsNUL(_ value: Any) -> Bool {
        switch value {
        case let text as String: return text.contains("\u{0}")
        case let array as [Any]: return array.contains(where: containsNUL)
        case let object as [String: Any]: return object.contains { containsNUL($0.key) || containsNUL($0.value) }
        default: return false
        }
    }

    /// A refused body field (400, answered by `ProblemMiddleware`).
    static func invalid(_ field: String?, _ reason: String) -> InvalidInput {
        InvalidInput(field, reason, title: "Invalid request body")
    }
}

extension PSQLError {
    /// SQLSTATE class 22 (data exception): the value sent was refused (22023 out of range, 22021 or 22P05 a
    /// character PostgreSQL text cannot hold).
    var isDataException: Bool { serverInfo?[.sqlState]?.hasPrefix("22") ?? false }
}
