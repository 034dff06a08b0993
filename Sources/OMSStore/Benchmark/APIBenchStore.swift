import Logging
import PostgresNIO

/// The history rows `oms bench api` reads through the API: 100 audit rows for each of the first 50
/// meters of the benchmark registry (not applied: no status changes, no announcements), tagged
/// `API-BENCH-…` so that they can be removed again.
public struct APIBenchStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Adds 100 history rows to each of the first 50 meters by number.
    public func addHistoryRows() async throws {
        try await client.fetch(
            """
            INSERT INTO oms_meter_status_events (meter_id, event_type, source_type, source_event_id, status_field,
                                                 previous_status, new_status, event_timestamp, applied)
            SELECT m.id, 'bench', 'manual', 'API-BENCH-' || g, 'power_status', 'on', 'on', now() - make_interval(secs => g), false
              FROM (SELECT id FROM oms_meters ORDER BY meter_number LIMIT 50) m, generate_series(1, 100) g
            """, logger: logger)
    }

    /// The numbers of the meters that get history rows (the first 50 by number), in order.
    public func historyMeterNumbers() async throws -> [String] {
        var numbers: [String] = []
        for number in try await client.fetch(
            "SELECT meter_number FROM oms_meters ORDER BY meter_number LIMIT 50", logger: logger).decode(String.self) {
            numbers.append(number)
        }
        return numbers
    }

    /// Removes the history rows `addHistoryRows` added.
    public func removeHistoryRows() async throws {
        try await client.fetch(
            "DELETE FROM oms_meter_status_events WHERE source_type = 'manual' AND source_event_id LIKE 'API-BENCH-%'", logger: logger)
    }
}
