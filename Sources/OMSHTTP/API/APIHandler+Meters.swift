import Foundation
import Logging
import OMSAPI
import OMSDomain
import OMSStore
import OpenAPIRuntime
import PostgresNIO

/// A meter, its status history (cursor pages), the meters near a point, and the manual status change.
extension APIHandler {
    // (Served by `PrebuiltJSONReads` in the application, which answers before this handler with
    // PostgreSQL's own JSON; this is the same answer through the generated types.)
    func getMeter(_ input: Operations.GetMeter.Input) async throws -> Operations.GetMeter.Output {
        let number = input.path.meterNumber
        guard let meter = try await meters.meter(number) else { throw ProblemDetails.notFound("no meter \(number)") }
        return .ok(.init(body: .json(meter)))
    }

    func getMeterHistory(_ input: Operations.GetMeterHistory.Input) async throws -> Operations.GetMeterHistory.Output {
        let number = input.path.meterNumber
        let limit = try PageLimit.checked(input.query.limit)
        let cursor = input.query.cursor
        do {
            // One row more than the page tells whether there is a next one.
            let rows = try await meters.history(number, limit: limit + 1, cursor: cursor)
            let page = Array(rows.prefix(limit))
            let next = rows.count > limit ? page.last?.cursor : nil
            return .ok(.init(body: .json(.init(items: page, nextCursor: try OpenAPIValueContainer(unvalidatedValue: next)))))
        } catch {
            throw Self.historyRefusal(error, meter: number)
        }
    }

    /// How a read of a meter's history answers the database's refusals (here and in
    /// `PrebuiltJSONReads`): 404 for an unknown meter (P0002), 400 naming `cursor` for one that is
    /// not a cursor of this history (22023); any other error as it is.
    static func historyRefusal(_ error: any Error, meter number: String) -> any Error {
        guard let error = error as? PSQLError else { return error }
        if error.isState("P0002") { return ProblemDetails.notFound("no meter \(number)") }
        if error.isState("22023") {
            return InvalidInput("cursor", "not a cursor of this history: pass next_cursor from the previous page, unchanged")
        }
        return error
    }

    func listNearbyMeters(_ input: Operations.ListNearbyMeters.Input) async throws -> Operations.ListNearbyMeters.Output {
        let query = input.query
        for (name, value) in [("lat", query.lat), ("lng", query.lng), ("radius_km", query.radiusKm)] where !value.isFinite {
            throw InvalidInput(name, "required: a number (lat -90..90, lng -180..180, radius_km > 0)")
        }
        let limit = try PageLimit.checked(query.limit, noun: "count")
        do {
            let found = try await meters.metersWithin(latitude: query.lat, longitude: query.lng, radiusKm: query.radiusKm, limit: limit)
            return .ok(.init(body: .json(.init(count: found.count, items: found))))
        } catch let error as PSQLError where error.isState("22023") {
            throw InvalidInput(error)
        }
    }

    /// `PUT /api/v1/meters/{meter_number}/status`: 201 applied; 200 stored but not applied (older than the
    /// meter's newer state) or a repeat of the request id; 409 for a request id used for another change.
    /// Checked by the database (a plausible time, a request id naming one change); logged at notice with the key.
    func setMeterPowerStatus(_ input: Operations.SetMeterPowerStatus.Input) async throws -> Operations.SetMeterPowerStatus.Output {
        let number = input.path.meterNumber
        guard case .json(let body) = input.body else { throw InvalidInput(nil, "the body must be JSON") }
        let requestID = body.requestId
        if requestID.contains("\u{0}") { throw BodyField.invalid("request_id", "must not contain NUL (U+0000)") }
        guard !requestID.isEmpty else {
            throw BodyField.invalid("request_id", "required: a client-chosen id, so that a retry is recognised")
        }
        if let note = body.note, note.contains("\u{0}") { throw BodyField.invalid("note", "must not contain NUL (U+0000)") }
        var time: Date?
        if let text = body.timestamp {
            guard let parsed = ISO8601Time.parse(text) else {
                throw BodyField.invalid("timestamp", "not an ISO 8601 time such as 2025-09-30T10:00:00Z")
            }
            time = parsed
        }
        guard let status = PowerStatus(rawValue: body.powerStatus.rawValue) else {
            throw BodyField.invalid("power_status", "required: on, off or unknown")
        }
        let change: ManualStatusChange
        do {
            change = try await meters.setPowerStatus(number, status: status, requestID: requestID, at: time, note: body.note)
        } catch let error as PSQLError where error.isState("P0002") {
            throw ProblemDetails.notFound("no meter \(number)")
        } catch let error as PSQLError where error.isState("23505") {
            let reason = error.serverInfo?[.message] ?? "the request id was used for another change"
            throw ProblemDetails(
                type: "/problems/conflict", title: "Conflict", status: 409, detail: reason,
                errors: [.init(field: "request_id", reason: reason)])
        } catch let error as PSQLError where error.isDataException {
            throw BodyField.invalid(error.serverInfo?[.columnName], error.serverInfo?[.message] ?? "invalid")
        }
        logChange(change, number: number, status: status, requestID: requestID)
        let result = Components.Schemas.StatusChangeResult(
            applied: change.applied,
            detail: change.applied ? nil : "stored in the audit trail but not applied: the meter's state dates from "
                + (change.newerStateAt.map(ISO8601DateFormatter().string(from:)) ?? "a later time") + ", after this change's time",
            duplicate: change.duplicate,
            newerStateAt: change.applied ? nil : change.newerStateAt,
            statusEventId: change.statusEventID.uuidString.lowercased())
        return change.duplicate || !change.applied ? .ok(.init(body: .json(result))) : .created(.init(body: .json(result)))
    }

    /// The audit line of a manual change, with the request's logger (its key and request id).
    private func logChange(_ change: ManualStatusChange, number: String, status: PowerStatus, requestID: String) {
        let logger = RequestEnvironment.logger ?? self.logger
        let what = "meter \(number) power \(status.rawValue) (request \(requestID))"
        let metadata: Logger.Metadata = [
            "meter_number": "\(number)", "power_status": "\(status.rawValue)", "request_id": "\(requestID)",
            "status_event_id": "\(change.statusEventID.uuidString.lowercased())", "applied": "\(change.applied)",
            "duplicate": "\(change.duplicate)",
        ]
        if change.duplicate {
            logger.notice("manual status change \(what): a repeat, nothing changed", metadata: metadata)
        } else if change.applied {
            logger.notice("manual status change \(what): applied", metadata: metadata)
        } else {
            logger.notice("manual status change \(what): stored, not applied (late)", metadata: metadata)
        }
    }
}
