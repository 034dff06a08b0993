import ArgumentParser
import Foundation
import OMSDomain
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI

extension CommandTests {
    @Test("oms keys create, list and revoke; unknown scopes and ids are refused")
    func keys() async throws {
        try await TestDatabase.with(.migrated) { database in
            let url = try await TestDatabase.server().connectionURL(database: database.name)
            try await run(["keys", "create", "--scope", "ingest:kaifa", "--scope", "read", "--name", "head-end", "--database-url", url])
            let store = APIKeyStore(client: database.client, logger: TestDatabase.logger)
            let created = try #require(try await store.list().first)
            #expect(created.name == "head-end")
            #expect(created.scopes == [.ingestKAIFA, .read])
            #expect(created.revokedAt == nil)
            try await run(["keys", "list", "--database-url", url])

            try await run(["keys", "revoke", created.id.uuidString, "--database-url", url])
            #expect(try await store.list().first?.revokedAt != nil)
            await #expect(throws: ValidationError.self) {
                try await run(["keys", "revoke", created.id.uuidString, "--database-url", url])
            }
            #expect(throws: (any Error).self) { try OMSCommand.parseAsRoot(["keys", "create", "--scope", "write", "--database-url", url]) }
            #expect(throws: (any Error).self) { try OMSCommand.parseAsRoot(["keys", "create", "--database-url", url]) }
            #expect(throws: (any Error).self) { try OMSCommand.parseAsRoot(["keys", "revoke", "42", "--database-url", url]) }
        }
    }
}
