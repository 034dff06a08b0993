import ArgumentParser
import OMSHTTP
import OMSStore
import PostgresNIO

/// `oms demo`: the whole thing on the embedded default, from nothing.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start the managed database, migrate, load a sample network, report on it, then serve the API.",
        discussion: """
            The demo uses a database of its own (oms_demo), recreated on every run, so it never touches \
            the data of `oms migrate` / `oms serve`. With --database-url it refuses a database that already holds meters.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Flag(name: .customLong("no-serve"), help: "Exit after printing instead of serving the API.")
    var noServe = false

    @Option(help: "Port for the API.")
    var port: Int = 8080

    static let databaseName = "oms_demo"

    func run() async throws {
        let logger = database.makeLogger()
        let serveAfterwards = !noServe
        let port = port
        let isManaged = database.explicitURL == nil
        try await database.withDatabase(database: Self.databaseName, logger: logger) { configuration, description in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                if isManaged {
                    try await client.query("DROP SCHEMA public CASCADE", logger: logger)
                    try await client.query("CREATE SCHEMA public", logger: logger)
                }
                let summary = try await MigrationRunner.bundled(logger: logger).migrate(client)
                print("database  \(description)")
                print("schema    version \(summary.schemaVersion)")
                let existing = try await client.query("SELECT count(*) FROM oms_meters", logger: logger)
                for try await count in existing.decode(Int.self) where count > 0 {
                    throw ValidationError("the demo loads a sample network and needs an empty registry; this one holds \(count) meters")
                }
                try await SampleNetwork.load(into: client, logger: logger)
                try await printReport(client: client, logger: logger)
            }
            if serveAfterwards {
                print("\nserving the API on http://127.0.0.1:\(port) (GET /health); Ctrl-C stops")
                try await serve(
                    configuration: configuration, settings: ServerSettings(port: port, migrateOnStart: false),
                    logger: logger)
            }
        }
    }

    func printReport(client: PostgresClient, logger: Logger) async throws {
        print("\nSample network loaded: network_substations_with_meters")
        let rows = try await client.query(
            """
            SELECT substation_id, name, feeder_count, total_meters, online_meters, offline_meters, unknown_meters
              FROM network_substations_with_meters ORDER BY substation_id
            """, logger: logger)
        var table = TextTable(columns: ["substation", "name", "feeders", "meters", "online", "offline", "unknown"])
        for try await (id, name, feeders, total, online, offline, unknown) in rows.decode(
            (String, String?, Int, Int, Int, Int, Int).self)
        {
            table.append([id, name ?? "", "\(feeders)", "\(total)", "\(online)", "\(offline)", "\(unknown)"])
        }
        print(table.render())

        print("\nValidation checklist")
        for check in try await SchemaInspector(client: client, logger: logger).validationReport() {
            print("  \(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)")
        }
    }
}
