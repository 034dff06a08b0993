import Logging
import PostgresNIO

/// What `oms bench storm` does to the benchmark registry besides posting its storm: the reset before
/// each run, the baseline it times (the same events INSERTed as they are into the raw feed tables) and
/// the count of storm events that were correlated.
public struct StormBenchStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Empties the feed, outage, device-state and audit tables (`SCADABenchStore.clearOutageState`),
    /// puts every meter whose status changed back on, and refreshes `oms_meters`' statistics.
    public func reset() async throws {
        try await SCADABenchStore(client: client, logger: logger).clearOutageState()
    }

    /// A JSON array of KAIFA events (`mRID`, `eventTypeRef`, `assetMRID`, `createdDateTime`) INSERTed
    /// as they are into `kaifa_events`, in one statement: no matching, no status, no outage.
    public func insertRawKAIFAEvents(jsonArray: String) async throws {
        try await client.fetch(
            """
            INSERT INTO kaifa_events (source_event_id, event_type_code, asset_mrid, event_timestamp, raw)
            SELECT e ->> 'mRID', e ->> 'eventTypeRef', e ->> 'assetMRID', (e ->> 'createdDateTime')::timestamptz, e
              FROM jsonb_array_elements(\(jsonArray)::jsonb) AS e
            """, logger: logger)
    }

    /// A JSON array of ONU events (`eventId`, `type`, `onuId`, `timestamp`) INSERTed as they are into
    /// `onu_events`, in one statement: no matching, no status, no outage.
    public func insertRawONUEvents(jsonArray: String) async throws {
        try await client.fetch(
            """
            INSERT INTO onu_events (source_event_id, event_type, onu_id, event_timestamp, raw)
            SELECT e ->> 'eventId', e ->> 'type', e ->> 'onuId', (e ->> 'timestamp')::timestamptz, e
              FROM jsonb_array_elements(\(jsonArray)::jsonb) AS e
            """, logger: logger)
    }

    /// KAIFA and ONU events linked to an outage.
    public func correlatedEventCount() async throws -> Int {
        let rows = try await client.fetch(
            """
            SELECT ((SELECT count(*) FROM kaifa_events WHERE outage_event_id IS NOT NULL)
                  + (SELECT count(*) FROM onu_events WHERE outage_event_id IS NOT NULL))::int
            """, logger: logger)
        for count in try rows.decode(Int.self) { return count }
        return 0
    }
}
