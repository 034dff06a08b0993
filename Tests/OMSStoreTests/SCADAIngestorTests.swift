import Foundation
import OMSFeeds
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@Suite("SCADA ingestion from Swift")
struct SCADAIngestorTests {
    @Test("one bad item of a batch is refused alone; the good ones are applied")
    func badItemDoesNotBlockBatch() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let body = """
                {"eventId": "A", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD001", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault"}
                {"eventId": "B", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD001", "timestamp": "no"}
                {"eventId": "C", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD004", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault"}
                {"eventId": "D", "eventType": "breaker_trip", "substationId": "SS003", "feederId": "FD008", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault"}
                {"eventId": "A", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD001", "timestamp": "2025-09-30T10:00:00Z", "alarmType": "fault"}
                """
            let outcomes = try await FeedIngestor(.scada, client: database.client, logger: TestDatabase.logger)
                .ingest(body: Array(body.utf8))
            #expect(outcomes.count == 5)
            guard case .applied(let first) = outcomes[0], case .rejected(let decoding) = outcomes[1],
                  case .rejected(let database2) = outcomes[2], case .applied = outcomes[3],
                  case .duplicate(let repeated) = outcomes[4]
            else {
                Issue.record("unexpected outcomes \(outcomes)")
                return
            }
            #expect(decoding.index == 1 && decoding.field == "timestamp")
            #expect(database2.index == 2 && database2.field == "feederId")
            #expect(database2.reason.contains("belongs to substation SS002"))
            #expect(repeated.scadaEventID == first.scadaEventID)
            #expect(try await database.client.scalar(
                "SELECT string_agg(source_event_id, ',' ORDER BY source_event_id) FROM scada_events", as: String.self) == "A,D")
        }
    }

    @Test("Swift and SQL refuse the same bad messages on the same field", arguments: [
        #"{"substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z"}"#,
        #"{"eventType": "trip", "timestamp": "2025-09-30T10:00:00Z"}"#,
        #"{"eventType": "trip", "substationId": "SS001"}"#,
        #"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30 10:00:00"}"#,
        #"{"eventType": {"a": 1}, "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z"}"#,
        #"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z", "voltage": "low"}"#,
        #"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z", "coordinates": {"lat": 91, "lng": 0}}"#,
        #"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z", "coordinates": {"lat": 10}}"#,
        #"{"eventType": "trip", "substationId": "SS001", "timestamp": "2025-09-30T10:00:00Z", "coordinates": 7}"#,
    ])
    func swiftAndSQLAgree(message: String) async throws {
        guard case .failure(let swiftError)? = SCADADecoder.decodeBatch(Array(message.utf8)).first else {
            Issue.record("the Swift decoder accepted \(message)")
            return
        }
        try await TestDatabase.with(.migrated) { database in
            do {
                _ = try await database.client.scalar(
                    "SELECT insert_scada_event_from_json(\(message)::jsonb)", as: UUID.self)
                Issue.record("SQL accepted \(message)")
            } catch let error as PSQLError {
                #expect(error.serverInfo?[.columnName] == swiftError.field)
                #expect(error.serverInfo?[.sqlState] == "22023")
            }
            #expect(try await database.client.scalar("SELECT count(*)::int FROM scada_events", as: Int.self) == 0)
        }
    }
}
