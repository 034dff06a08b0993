import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// Issue 13, "State stays plausible", over HTTP: settings refused naming the bound, implausible times
/// refused by field, late writes saying so, request ids naming one change (409), NUL answered 400, SCADA
/// events stored unchecked checked when re-sent, and a notice line per admin write naming the key.
@Suite("Plausible input over HTTP: settings, times, late and repeated writes, NUL, audit log")
struct PlausibleInputRouteTests {
    typealias Reply = (status: HTTPResponse.Status, contentType: String?, json: [String: Any])

    func call(_ http: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ key: String,
              _ body: String? = nil) async throws -> Reply {
        try await http.execute(
            uri: uri, method: method, headers: [.authorization: key, .contentType: "application/json"],
            body: body.map { ByteBuffer(string: $0) }
        ) { ($0.status, $0.headers[.contentType], try json($0)) }
    }

    func firstError(_ reply: Reply) -> (field: String?, reason: String?) {
        let error = (reply.json["errors"] as? [[String: Any]])?.first
        return (error?["field"] as? String, error?["reason"] as? String)
    }

    static func time(_ offsetSeconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(offsetSeconds)))
    }

    func count(_ query: PostgresQuery, _ database: TestDatabase.Handle) async throws -> Int {
        try await database.client.scalar(query, as: Int.self)
    }

    @Test("PUT /settings: the issue's values refused 400 naming the bound, nothing changed; type and range listed")
    func settings() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let admin = try await bearer(database, [.admin])
            try await withApp(database) { http in
                for (key, value, message) in [
                    ("onu.confidence", "1.5", "onu.confidence must be a number from 0 to 1, not 1.5"),
                    ("onu.confidence", "70", "onu.confidence must be a number from 0 to 1, not 70"),
                    ("correlation.window_minutes", "1e308", "correlation.window_minutes must be a whole number from 1 to 10080, not 1e308"),
                    ("meter.communication_timeout_minutes", "1e300", "meter.communication_timeout_minutes must be a whole number from 1 to 1440, not 1e300"),
                    ("correlation.confirm_confidence", "-5", "correlation.confirm_confidence must be a number from 0.001 to 1, not -5"),
                    ("scada.critical_alarms", #"[1, 2, {"a": null}]"#, "scada.critical_alarms must be a JSON array of 1 to 200 strings"),
                    ("correlation.window_minutes", #""thirty""#, "correlation.window_minutes must be a whole number from 1 to 10080"),
                ] {
                    let before = try await database.client.scalar(
                        "SELECT value::text FROM oms_settings WHERE key = \(key)", as: String.self)
                    let reply = try await call(http, .put, "/api/v1/settings/\(key)", admin, #"{"value": \#(value)}"#)
                    #expect(reply.status == .badRequest, "\(key) \(value)")
                    #expect(reply.contentType == "application/problem+json")
                    #expect(firstError(reply).field == "value")
                    #expect(firstError(reply).reason?.contains(message) == true, "\(firstError(reply).reason ?? "")")
                    #expect(try await database.client.scalar(
                        "SELECT value::text FROM oms_settings WHERE key = \(key)", as: String.self) == before)
                }
                let changed = try await call(http, .put, "/api/v1/settings/correlation.confirm_confidence", admin, #"{"value": 0.9}"#)
                #expect(changed.status == .ok)
                #expect(changed.json["value"] as? Double == 0.9)
                #expect(changed.json["previous_value"] as? Double == 0.95)
                #expect(changed.json["value_type"] as? String == "number")

                let listed = try await call(http, .get, "/api/v1/settings", admin)
                let items = listed.json["items"] as? [[String: Any]] ?? []
                let window = items.first { $0["key"] as? String == "correlation.window_minutes" }
                #expect(window?["value_type"] as? String == "integer")
                #expect(window?["minimum"] as? Int == 1)
                #expect(window?["maximum"] as? Int == 10080)
                #expect(items.contains { $0["key"] as? String == "feeds.max_future_minutes" })
                #expect(items.contains { $0["key"] as? String == "feeds.earliest_event_time" })
            }
        }
    }

    @Test("NUL in a setting's key or value, or in the manual change's note, request id or status: 400 naming the field")
    func nul() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let admin = try await bearer(database, [.admin])
            let audits = try await count("SELECT count(*)::int FROM oms_meter_status_events", database)
            try await withApp(database) { http in
                let value = try await call(http, .put, "/api/v1/settings/scada.critical_alarms", admin, #"{"value": ["fault\u0000"]}"#)
                #expect(value.status == .badRequest)
                #expect(firstError(value).field == "value")
                let nested = try await call(http, .put, "/api/v1/settings/onu.confidence", admin, #"{"value": {"a\u0000": 1}}"#)
                #expect(nested.status == .badRequest)
                #expect(firstError(nested).field == "value")
                // A NUL in a path parameter: never a 500 (400 once decoded, else no such setting or meter).
                for uri in ["/api/v1/settings/onu.confidence%00", "/api/v1/meters/M10000311%00/status"] {
                    let reply = try await call(http, .put, uri, admin, #"{"value": 0.5, "power_status": "off", "request_id": "R-P"}"#)
                    #expect([.badRequest, .notFound].contains(reply.status), "\(uri): \(reply.status)")
                }
                for (body, field) in [
                    (#"{"power_status": "off", "request_id": "R-\u0000", "note": "x"}"#, "request_id"),
                    (#"{"power_status": "off", "request_id": "R-NUL", "note": "crew\u0000report"}"#, "note"),
                    (#"{"power_status": "of\u0000f", "request_id": "R-NUL2"}"#, "power_status"),
                    (#"{"power_status": "off", "request_id": "R-NUL3", "note": 5}"#, "note"),
                ] {
                    let reply = try await call(http, .put, "/api/v1/meters/M10000311/status", admin, body)
                    #expect(reply.status == .badRequest, "\(body)")
                    #expect(reply.contentType == "application/problem+json")
                    #expect(firstError(reply).field == field, "\(body)")
                }
            }
            #expect(try await count("SELECT count(*)::int FROM oms_meter_status_events", database) == audits)
            #expect(try await database.client.scalar(
                "SELECT value::text FROM oms_settings WHERE key = 'scada.critical_alarms'", as: String.self)
                == SettingKey.scadaCriticalAlarms.defaultValue)
        }
    }

    @Test("manual status: an implausible time 400 by field; late 200 applied false with the newer time; applied 201; repeat 200")
    func manualStatus() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let admin = try await bearer(database, [.admin])
            let path = "/api/v1/meters/M10000311/status"
            try await withApp(database) { http in
                for time in ["2999-01-01T00:00:00Z", "0001-01-01T00:00:00Z"] {
                    let reply = try await call(http, .put, path, admin, #"{"power_status": "off", "request_id": "R-T-\#(time)", "timestamp": "\#(time)"}"#)
                    #expect(reply.status == .badRequest, "\(time)")
                    #expect(firstError(reply).field == "timestamp")
                }
                #expect(try await count("SELECT count(*)::int FROM oms_meter_status_events WHERE source_type = 'manual'", database) == 0)

                let now = try await call(http, .put, path, admin, #"{"power_status": "off", "request_id": "R-1"}"#)
                #expect(now.status == .created)
                #expect(now.json["applied"] as? Bool == true)
                #expect(now.json["duplicate"] as? Bool == false)
                #expect(now.json["newer_state_at"] == nil)

                let earlier = Self.time(-3600)
                let late = try await call(http, .put, path, admin, #"{"power_status": "on", "request_id": "R-2", "timestamp": "\#(earlier)"}"#)
                #expect(late.status == .ok)
                #expect(late.json["applied"] as? Bool == false)
                #expect(late.json["duplicate"] as? Bool == false)
                #expect(late.json["newer_state_at"] is String)
                #expect((late.json["detail"] as? String)?.contains("not applied") == true)
                #expect(try await database.client.scalar(
                    "SELECT power_status FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self) == "off")

                let retry = try await call(http, .put, path, admin, #"{"power_status": "on", "request_id": "R-2", "timestamp": "\#(earlier)"}"#)
                #expect(retry.status == .ok)
                #expect(retry.json["duplicate"] as? Bool == true)
                #expect(retry.json["applied"] as? Bool == false)
                #expect(retry.json["status_event_id"] as? String == late.json["status_event_id"] as? String)
            }
        }
    }

    @Test("a request id reused for another change: 409 problem+json naming request_id, nothing changed; an exact retry 200")
    func reusedRequestID() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let admin = try await bearer(database, [.admin])
            try await withApp(database) { http in
                let change = #"{"power_status": "off", "request_id": "R-9", "note": "crew report"}"#
                #expect(try await call(http, .put, "/api/v1/meters/M10000311/status", admin, change).status == .created)
                for (path, body) in [
                    ("/api/v1/meters/M10000311/status", #"{"power_status": "on", "request_id": "R-9", "note": "crew report"}"#),
                    ("/api/v1/meters/M10000312/status", change),
                    ("/api/v1/meters/M10000311/status", #"{"power_status": "off", "request_id": "R-9", "note": "other"}"#),
                    ("/api/v1/meters/M10000311/status", #"{"power_status": "off", "request_id": "R-9", "note": "crew report", "timestamp": "\#(Self.time(-60))"}"#),
                ] {
                    let reply = try await call(http, .put, path, admin, body)
                    #expect(reply.status == .conflict, "\(path) \(body)")
                    #expect(reply.contentType == "application/problem+json")
                    #expect(firstError(reply).field == "request_id")
                    #expect((reply.json["detail"] as? String)?.contains(#"request id "R-9" was already used"#) == true)
                }
                let retry = try await call(http, .put, "/api/v1/meters/M10000311/status", admin, change)
                #expect(retry.status == .ok)
                #expect(retry.json["duplicate"] as? Bool == true)
            }
            #expect(try await count("SELECT count(*)::int FROM oms_meter_status_events WHERE source_type = 'manual'", database) == 1)
            #expect(try await database.client.scalar(
                "SELECT power_status FROM oms_meters WHERE meter_number = 'M10000311'", as: String.self) == "off")
        }
    }

    @Test("feeds: a time ahead refused by field (nothing stored); a late message 'late', never 'applied'")
    func feeds() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let onuKey = try await bearer(database, [.ingestONU])
            let scadaKey = try await bearer(database, [.ingestSCADA])
            try await withApp(database) { http in
                let future = try await call(http, .post, "/api/v1/onu/events", onuKey,
                    #"{"type": "ONU_LastGaspAlert", "eventId": "F-1", "onuId": "ONU-000001", "timestamp": "2999-01-01T00:00:00Z"}"#)
                #expect(future.status == .badRequest)
                #expect(firstError(future).field == "timestamp")
                #expect(firstError(future).reason?.contains("more than 5 minutes ahead of the service's clock") == true)
                let trip = try await call(http, .post, "/api/v1/scada/events", scadaKey,
                    #"{"eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD001", "alarmType": "fault", "timestamp": "9999-12-31T23:59:59Z"}"#)
                #expect(trip.status == .badRequest)
                #expect(firstError(trip).field == "timestamp")
                #expect(try await count("SELECT count(*)::int FROM onu_events", database) == 0)
                #expect(try await count("SELECT count(*)::int FROM scada_events", database) == 0)
                #expect(try await count("SELECT count(*)::int FROM oms_outage_events", database) == 0)

                // Older than the meters' state (the sample's states are an hour or more old: 2020 is late).
                let late = try await call(http, .post, "/api/v1/onu/events", onuKey,
                    #"{"type": "ONU_LastGaspAlert", "eventId": "OLD-1", "onuId": "ONU-000001", "timestamp": "2020-01-01T00:00:00Z"}"#)
                #expect(late.status == .ok)
                #expect(late.json["outcome"] as? String == "late")
                #expect(late.json["late_changes"] as? Int == 2)
                #expect(late.json["status_changes"] as? Int == 0)
                #expect((late.json["detail"] as? String)?.contains("no status was changed") == true)

                let fresh = try await call(http, .post, "/api/v1/onu/events", onuKey,
                    #"{"type": "ONU_LastGaspAlert", "eventId": "NEW-1", "onuId": "ONU-000003", "timestamp": "\#(Self.time(-5))"}"#)
                #expect(fresh.status == .created)
                #expect(fresh.json["outcome"] as? String == "applied")
                let repeated = try await call(http, .post, "/api/v1/onu/events", onuKey,
                    #"{"type": "ONU_LastGaspAlert", "eventId": "NEW-1", "onuId": "ONU-000003", "timestamp": "\#(Self.time(-5))"}"#)
                #expect(repeated.status == .ok)
                #expect(repeated.json["outcome"] as? String == "duplicate")

                let batch = try await call(http, .post, "/api/v1/onu/events", onuKey, """
                    [{"type": "ONU_LastGaspAlert", "eventId": "OLD-2", "onuId": "ONU-000004", "timestamp": "2020-01-01T00:00:00Z"},
                     {"type": "ONU_LastGaspAlert", "eventId": "NEW-2", "onuId": "ONU-000006", "timestamp": "\(Self.time(-5))"},
                     {"type": "ONU_LastGaspAlert", "eventId": "FUT-2", "onuId": "ONU-000007", "timestamp": "2999-01-01T00:00:00Z"}]
                    """)
                #expect(batch.status == .ok)
                #expect(batch.json["applied"] as? Int == 1)
                #expect(batch.json["late"] as? Int == 1)
                #expect(batch.json["rejected"] as? Int == 1)
                let outcomes = (batch.json["results"] as? [[String: Any]])?.map { $0["outcome"] as? String }
                #expect(outcomes == ["late", "applied", "rejected"])
                #expect(try await count("SELECT count(*)::int FROM onu_events WHERE source_event_id = 'FUT-2'", database) == 0)
            }
        }
    }

    @Test("a breaker trip stored 'not critical' by a wrong setting is checked when re-sent after PUT fixes it")
    func scadaRecheck() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let scadaKey = try await bearer(database, [.ingestSCADA])
            let admin = try await bearer(database, [.admin])
            // The issue's setting, as a database could hold it before migration 0031.
            try await database.client.withConnection { connection in
                try await connection.query("BEGIN", logger: TestDatabase.logger)
                try await connection.query("ALTER TABLE oms_settings DISABLE TRIGGER oms_settings_check", logger: TestDatabase.logger)
                try await connection.query(
                    #"UPDATE oms_settings SET value = '[1, 2, {"a": null}]' WHERE key = 'scada.critical_alarms'"#, logger: TestDatabase.logger)
                try await connection.query("ALTER TABLE oms_settings ENABLE TRIGGER oms_settings_check", logger: TestDatabase.logger)
                try await connection.query("COMMIT", logger: TestDatabase.logger)
            }
            let trip = #"{"eventId": "T-1", "eventType": "breaker_trip", "substationId": "SS001", "feederId": "FD002", "alarmType": "fault", "timestamp": "\#(Self.time(-30))"}"#
            try await withApp(database) { http in
                let first = try await call(http, .post, "/api/v1/scada/events", scadaKey, trip)
                #expect(first.status == .created)
                #expect(first.json["meters_checked"] as? Bool == false)
                let fix = try await call(http, .put, "/api/v1/settings/scada.critical_alarms", admin, #"{"value": ["fault", "breaker_trip"]}"#)
                #expect(fix.status == .ok)
                let again = try await call(http, .post, "/api/v1/scada/events", scadaKey, trip)
                #expect(again.status == .created)
                #expect(again.json["rechecked"] as? Bool == true)
                #expect(again.json["meters_checked"] as? Bool == true)
                #expect(again.json["total_meters"] as? Int == 300)
                #expect((again.json["previous_reason"] as? String)?.hasPrefix("not critical") == true)
                #expect(again.json["outage_event_id"] is String)
                let third = try await call(http, .post, "/api/v1/scada/events", scadaKey, trip)
                #expect(third.status == .ok)
                #expect(third.json["duplicate"] as? Bool == true)
            }
        }
    }

    @Test("every admin write logs one notice line naming the API key and what changed")
    func auditLog() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let keys = APIKeyStore(client: database.client, logger: TestDatabase.logger)
            let created = try await keys.create(scopes: [.admin], name: "auditor")
            let admin = "Bearer \(created.key)"
            let log = CapturedLog()
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
            let app = try buildApplication(client: client, settings: ServerSettings(migrateOnStart: false), logger: log.logger())
            try await withRouterApp(app) { http in
                let setting = try await call(http, .put, "/api/v1/settings/correlation.window_minutes", admin, #"{"value": 45}"#)
                #expect(setting.status == .ok)
                let change = #"{"power_status": "off", "request_id": "R-LOG"}"#
                let first = try await call(http, .put, "/api/v1/meters/M10000311/status", admin, change)
                #expect(first.status == .created)
                let again = try await call(http, .put, "/api/v1/meters/M10000311/status", admin, change)
                #expect(again.status == .ok)
            }
            let notices = log.records.filter { $0.level == .notice }
            let setting = notices.filter { $0.message.contains("correlation.window_minutes") }
            #expect(setting.count == 1)
            #expect(setting.first?.message.contains("60 -> 45") == true)
            #expect(setting.first?.metadata["api_key"]?.description == created.id.uuidString.lowercased()
                    || setting.first?.metadata["api_key"]?.description == "\(created.id)")
            let manual = notices.filter { $0.message.contains("request R-LOG") }
            #expect(manual.count == 2)
            #expect(manual.first?.message.contains("meter M10000311 power off") == true)
            #expect(manual.first?.message.contains("applied") == true)
            #expect(manual.last?.message.contains("a repeat") == true)
            #expect(manual.allSatisfy { $0.metadata["api_key"] != nil })
        }
    }
}
