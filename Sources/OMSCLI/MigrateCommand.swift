import ArgumentParser
import OMSStore

/// `oms migrate`: apply the numbered schema migrations.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update the database schema (each migration once, in order, in one transaction each)."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = database.makeLogger()
        let runner = try MigrationRunner.bundled(logger: logger)
        let summary = try await database.withDatabase(logger: logger) { configuration, description in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await runner.migrate(client)
            }
        }
        for file in summary.applied { print("applied  \(file)") }
        print("schema version \(summary.schemaVersion): \(summary.applied.count) applied now, \(summary.alreadyApplied) already applied")
    }
}
