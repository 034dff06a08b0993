import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OMSDomain
import OMSHTTP
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// Error answers are `application/problem+json` whatever produced them.
@Suite("Errors as RFC 9457 problem documents")
struct ProblemTests {
    @Test("an unknown route is 404 and a body over the limit 413, both problem+json")
    func notFoundAndTooLarge() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let key = try await bearer(database, [.admin])
            let client = PostgresClient(configuration: database.configuration, backgroundLogger: TestDatabase.logger)
            let app = try buildApplication(
                client: client, settings: ServerSettings(migrateOnStart: false, maximumBodySize: 1024), logger: TestDatabase.logger)
            try await withRouterApp(app) { http in
                try await http.execute(uri: "/api/v1/no-such-thing", method: .get, headers: [.authorization: key]) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    // Every answer names its request, as the log lines do (hb.request.id).
                    #expect(response.headers[HTTPField.Name("X-Request-Id")!]?.isEmpty == false)
                    let body = try json(response)
                    #expect(body["status"] as? Int == 404)
                    #expect(body["detail"] as? String == "no route GET /api/v1/no-such-thing")
                }
                let big = "[" + String(repeating: #"{"eventId": "X", "eventType": "trip"},"#, count: 100) + "{}]"
                try await http.execute(
                    uri: "/api/v1/scada/events", method: .post, headers: [.authorization: key, .contentType: "application/json"],
                    body: ByteBuffer(string: big)
                ) { response in
                    #expect(response.status == .contentTooLarge)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try json(response)
                    #expect(body["status"] as? Int == 413)
                    #expect((body["detail"] as? String)?.contains("larger than this service accepts") == true)
                }
                #expect(try await database.client.scalar("SELECT count(*)::int FROM scada_events", as: Int.self) == 0)
            }
        }
    }
}
