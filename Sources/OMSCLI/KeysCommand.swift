import ArgumentParser
import Foundation
import OMSDomain
import OMSStore
import PostgresNIO

/// `oms keys create|list|revoke`: the API keys of the HTTP API.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke API keys (Authorization: Bearer KEY).",
        discussion: """
            Scopes: \(APIScope.allCases.map(\.rawValue).joined(separator: ", ")). admin may do everything. \
            A key is shown once, when it is created; the database keeps only its SHA-256.
            """,
        subcommands: [Create.self, List.self, Revoke.self]
    )

    /// Runs `body` with a client of the migrated database.
    static func withKeys<T: Sendable>(
        _ database: DatabaseOptions, _ body: @escaping @Sendable (APIKeyStore) async throws -> T
    ) async throws -> T {
        let logger = database.makeLogger()
        return try await database.withDatabase(logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                _ = try await MigrationRunner.bundled(logger: logger).migrate(client)
                return try await body(APIKeyStore(client: client, logger: logger))
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key with the given scopes; prints the key (only this once) and its id.")

        @OptionGroup var database: DatabaseOptions

        @Option(name: .customLong("scope"), help: "A scope of the key (repeat for several): \(APIScope.allCases.map(\.rawValue).joined(separator: ", ")).")
        var scopes: [String] = []

        @Option(help: "A name to recognise the key by (who or what uses it).")
        var name: String = ""

        func validate() throws {
            guard !scopes.isEmpty else { throw ValidationError("give at least one --scope") }
            for scope in scopes where APIScope(rawValue: scope) == nil {
                throw ValidationError("unknown scope \(scope): the scopes are \(APIScope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            let scopes = scopes.compactMap(APIScope.init(rawValue:))
            let name = name
            let (id, key) = try await KeysCommand.withKeys(database) { try await $0.create(scopes: scopes, name: name) }
            print(key)
            FileHandle.standardError.write(Data("""
                key \(id.uuidString.lowercased()) (\(scopes.map(\.rawValue).joined(separator: ", "))): keep it now, it is not shown again.
                Send it as: Authorization: Bearer <key>

                """.utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys (never the keys themselves).")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let keys = try await KeysCommand.withKeys(database) { try await $0.list() }
            var table = TextTable(columns: ["id", "name", "scopes", "key starts", "created", "revoked"])
            let format = Date.ISO8601FormatStyle()
            for key in keys {
                table.append([
                    key.id.uuidString.lowercased(), key.name, key.scopes.map(\.rawValue).joined(separator: ","),
                    key.prefix + "…", key.createdAt.formatted(format), key.revokedAt?.formatted(format) ?? "",
                ])
            }
            print(table.render())
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: requests with it get 401 from now on.")

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The key's id (oms keys list).")
        var id: String

        func validate() throws {
            guard UUID(uuidString: id) != nil else { throw ValidationError("\(id) is not a key id (a uuid, as oms keys list shows)") }
        }

        func run() async throws {
            let id = UUID(uuidString: id)!
            let revoked = try await KeysCommand.withKeys(database) { try await $0.revoke(id: id) }
            guard revoked else {
                throw ValidationError("no key in force has the id \(id.uuidString.lowercased())")
            }
            print("revoked \(id.uuidString.lowercased())")
        }
    }
}
