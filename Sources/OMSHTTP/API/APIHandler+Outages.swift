import Foundation
import OMSAPI
import OMSStore
import OpenAPIRuntime
import PostgresNIO

/// Outages newest first (filtered, cursor pages), and one outage with its sources, timeline and meters.
extension APIHandler {
    func listOutages(_ input: Operations.ListOutages.Input) async throws -> Operations.ListOutages.Output {
        let query = input.query
        var filter = OutageFilter()
        // Statuses comma-separated, repeated, or both.
        let statuses = (query.status ?? []).flatMap { $0.split(separator: ",").map(String.init) }
        if !statuses.isEmpty { filter.statuses = statuses }
        filter.active = query.active
        filter.from = query.from
        filter.to = query.to
        filter.substation = query.substation
        let limit = try PageLimit.checked(query.limit)
        do {
            let rows = try await outages.list(filter, limit: limit + 1, cursor: query.cursor)
            let page = Array(rows.prefix(limit))
            let next = rows.count > limit ? page.last?.cursor ?? nil : nil
            return .ok(.init(body: .json(.init(items: page, nextCursor: try OpenAPIValueContainer(unvalidatedValue: next)))))
        } catch let error as PSQLError where error.isState("22023") {
            throw InvalidInput(error)
        }
    }

    func getOutage(_ input: Operations.GetOutage.Input) async throws -> Operations.GetOutage.Output {
        let eventID = input.path.eventId
        guard let detail = try await outages.detail(eventID: eventID) else { throw ProblemDetails.notFound("no outage \(eventID)") }
        return .ok(.init(body: .json(detail)))
    }
}

/// Operator actions (scope operate) and the reliability indices (scope read).
extension APIHandler {
    func actOnOutage(_ input: Operations.ActOnOutage.Input) async throws -> Operations.ActOnOutage.Output {
        let eventID = input.path.eventId
        guard case .json(let body) = input.body else { throw InvalidInput(nil, "the body must be JSON") }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let arguments = String(decoding: try encoder.encode(body), as: UTF8.self)
        guard !arguments.contains("\\u0000") else { throw BodyField.invalid("remark", "must not contain NUL (U+0000)") }
        let actor = RequestEnvironment.key?.name ?? "api"
        let code: String
        do {
            code = try await actions.act(eventID: eventID, action: body.action.rawValue, actor: actor, arguments: arguments)
        } catch let error as PSQLError where error.isState("P0002") {
            throw ProblemDetails.notFound("no outage \(eventID)")
        } catch let error as PSQLError where error.isState("55000") {
            throw ProblemDetails(type: "/problems/conflict", title: "Conflict", status: 409,
                                 detail: error.serverInfo?[.message] ?? "the outage's status does not allow \(body.action.rawValue)")
        } catch let error as PSQLError where error.isDataException {
            throw BodyField.invalid(error.serverInfo?[.columnName] ?? "action", error.serverInfo?[.message] ?? "invalid")
        }
        (RequestEnvironment.logger ?? logger).notice("outage \(eventID): \(body.action.rawValue) by \(actor)", metadata: [
            "outage": "\(eventID)", "action": "\(body.action.rawValue)", "result": "\(code)",
        ])
        guard let detail = try await outages.detail(eventID: code) else { throw ProblemDetails.notFound("no outage \(code)") }
        return .ok(.init(body: .json(detail)))
    }

    func getReliability(_ input: Operations.GetReliability.Input) async throws -> Operations.GetReliability.Output {
        let query = input.query
        do {
            return .ok(.init(body: .json(try await actions.reliability(
                from: query.from, to: query.to, substation: query.substation, feeder: query.feeder))))
        } catch let error as PSQLError where error.isState("22023") {
            throw InvalidInput(error)
        }
    }
}
