import Foundation
import OMSFeeds
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// "Events from all 4 providers linked to same outage": one scenario on the sample
/// network's feeder FD002 (meters M10000301…M10000600), through the Swift decoders
/// and ingestors.
@Suite("All four feeds correlate into one outage")
struct SeedPromiseTests {
    static func time(_ offsetSeconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offsetSeconds)))
    }

    func outage(_ client: PostgresClient) async throws -> String {
        try await client.scalar(
            """
            SELECT count(*) || ' ' || string_agg(status || ' ' || confidence_score || ' '
                   || array_to_string(source_types, '+'), ';')
              FROM oms_active_outages
            """, as: String.self)
    }

    @Test("SCADA trip, KAIFA last gasp, ONU dying gasp and a call: one outage, four sources, rising confidence; then restored")
    func fourFeedsOneOutage() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            let logger = TestDatabase.logger

            let trip = try await FeedIngestor(.scada, client: client, logger: logger).ingest(body: Array("""
                {"eventId": "P-SCADA", "eventType": "breaker_trip", "alarmType": "fault", "substationId": "SS001",
                 "feederId": "FD002", "timestamp": "\(Self.time(10))"}
                """.utf8))
            guard case .applied(let scada)? = trip.first, let outageID = scada.outageEventID else {
                Issue.record("no outage from the trip: \(trip)")
                return
            }
            // Telemetry wins: a breaker trip is a confirmed outage at once.
            #expect(try await outage(client) == "1 confirmed 0.900 scada")

            let asset = try await client.scalar(
                "SELECT asset_mrid FROM oms_meters WHERE meter_number = 'M10000304'", as: String.self)
            let gasp = KAIFADecoderSample.soap(asset: asset, time: Self.time(20), mRID: "P-KAIFA")
            let kaifa = try await FeedIngestor(.kaifa, client: client, logger: logger).ingest(body: Array(gasp.utf8))
            guard case .applied(let kaifaSummary)? = kaifa.first else { Issue.record("\(kaifa)"); return }
            #expect(kaifaSummary.outageEventIDs == [outageID])
            // 1 - 0.1 * 0.2: two feeds, so confirmed.
            #expect(try await outage(client) == "1 confirmed 0.980 kaifa+scada")

            let onu = try await FeedIngestor(.onu, client: client, logger: logger).ingest(body: Array(
                #"{"type": "ONU_LastGaspAlert", "eventId": "P-ONU", "onuId": "ONU-000303", "timestamp": "\#(Self.time(30))"}"#.utf8))
            guard case .applied(let onuSummary)? = onu.first else { Issue.record("\(onu)"); return }
            #expect(onuSummary.outageEventIDs == [outageID])
            #expect(try await outage(client) == "1 confirmed 0.994 kaifa+onu+scada")

            let call = #"{"ticketId": "P-CALL", "timestamp": "\#(Self.time(40))", "customer": {"meterNumber": "m1000-0306", "phone": "215 555 0306"}, "troubleCode": "power_down"}"#
            let ticket = try await FeedIngestor(.callCenter, client: client, logger: logger).ingest(body: Array(call.utf8))
            guard case .applied(let callSummary)? = ticket.first else { Issue.record("\(ticket)"); return }
            #expect(callSummary.outageEventIDs == [outageID])
            #expect(try await outage(client) == "1 confirmed 0.997 call_center+kaifa+onu+scada")

            // Duplicates of every feed add nothing.
            _ = try await FeedIngestor(.kaifa, client: client, logger: logger).ingest(body: Array(gasp.utf8))
            _ = try await FeedIngestor(.onu, client: client, logger: logger).ingest(body: Array(
                #"{"type": "ONU_LastGaspAlert", "eventId": "P-ONU", "onuId": "ONU-000303", "timestamp": "\#(Self.time(30))"}"#.utf8))
            _ = try await FeedIngestor(.callCenter, client: client, logger: logger).ingest(body: Array(call.utf8))
            #expect(try await outage(client) == "1 confirmed 0.997 call_center+kaifa+onu+scada")
            #expect(try await client.scalar(
                "SELECT count(*)::int FROM oms_event_sources WHERE outage_event_id = \(outageID)", as: Int.self) == 4)

            let covered = try await client.scalar(
                "SELECT affected_meters_count FROM oms_outage_events WHERE id = \(outageID)", as: Int.self)
            // Every meter under the tripped feeder (FD002: sample meters 301-600).
            #expect(covered == 300)

            // A power-up restores its meter; the outage stays until the breaker closes (telemetry holds it).
            let up = KAIFADecoderSample.soap(asset: asset, time: Self.time(240), code: "3.26.136.216", mRID: "P-KAIFA-UP")
            _ = try await FeedIngestor(.kaifa, client: client, logger: logger).ingest(body: Array(up.utf8))
            #expect(try await client.scalar(
                "SELECT status || ' ' || meters_out FROM oms_outage_events WHERE id = \(outageID)", as: String.self)
                == "confirmed 299")
            _ = try await FeedIngestor(.scada, client: client, logger: logger).ingest(body: Array("""
                {"eventId": "P-SCADA-CLOSE", "eventType": "breaker_close", "alarmType": "close", "substationId": "SS001",
                 "feederId": "FD002", "timestamp": "\(Self.time(250))"}
                """.utf8))
            #expect(try await client.scalar(
                "SELECT status || ' ' || (actual_restoration_time IS NOT NULL)::text FROM oms_outage_events WHERE id = \(outageID)",
                as: String.self) == "restored true")
            #expect(try await client.scalar("SELECT count(*)::int FROM oms_active_outages", as: Int.self) == 0)
        }
    }
}
