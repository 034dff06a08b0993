import Foundation
import Logging
import OMSAPI
import PostgresNIO

/// Operator actions on outages and the reliability indices, through `oms_outage_act` and
/// `oms_reliability` (21_operator_actions.sql, 22_reliability.sql): the one implementation behind
/// `POST /api/v1/outages/{event_id}/actions`, `GET /api/v1/reliability`, `oms outage` and
/// `oms reliability`.
public struct OutageActions: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Performs `action` on the outage `eventID` as `actor`, with its arguments (crew, at, into,
    /// device, meters, cause, remark: a JSON object). Returns the event id of the outage it leaves
    /// (for split: the new one). Throws SQLSTATE 55000 (the status does not allow it, named),
    /// 22023 (a bad argument, named in the error's column), P0002 (no such outage).
    public func act(eventID: String, action: String, actor: String, arguments: String) async throws -> String {
        let rows = try await client.fetch(
            "SELECT oms_outage_act(\(eventID), \(action), \(actor), \(arguments)::jsonb)", logger: logger)
        for code in try rows.decode(String.self) { return code }
        throw MeterQueries.NoRow()
    }

    /// The IEEE 1366 indices of a period (nil: a year up to now) and a scope (nil: the network).
    /// Throws SQLSTATE 22023 naming the bad argument (from, substation, feeder).
    public func reliability(from: Date?, to: Date?, substation: String?, feeder: String?) async throws
        -> Components.Schemas.Reliability
    {
        let rows = try await client.apiRows(
            """
            SELECT jsonb_build_object(
                       'from', r.period_from, 'to', r.period_to, 'substation', \(substation)::text, 'feeder', \(feeder)::text,
                       'customers_served', r.customers_served, 'customers_interrupted', r.customers_interrupted,
                       'distinct_customers_interrupted', r.distinct_customers_interrupted,
                       'customer_minutes', r.customer_minutes, 'sustained_interruptions', r.sustained_interruptions,
                       'momentary_events', r.momentary_events, 'momentary_interruptions', r.momentary_interruptions,
                       'saifi', r.saifi, 'saidi', r.saidi, 'caidi', r.caidi, 'caifi', r.caifi, 'asai', r.asai,
                       'maifi', r.maifi, 'maifie', r.maifie, 'major_event_days', to_jsonb(r.major_event_days),
                       't_med', r.t_med, 'saifi_excluding_med', r.saifi_excluding_med,
                       'saidi_excluding_med', r.saidi_excluding_med)
              FROM oms_reliability(\(from), \(to), \(substation), \(feeder)) r
            """, as: Components.Schemas.Reliability.self, logger: logger)
        guard let row = rows.first else { throw MeterQueries.NoRow() }
        return row
    }
}
