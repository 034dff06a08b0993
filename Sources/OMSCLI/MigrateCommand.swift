import ArgumentParser
import OMSStore

/// `oms migrate`: bring the schema up to date: the versioned files not yet applied (tables, indexes,
/// seed rows; each once, in order), then the current files whose text changed (functions, triggers,
/// views), each in one transaction.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update the database schema: versioned files once each, in order; current files (functions, views) whenever they changed."
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
        for file in summary.baselined { print("recorded \(file) (a database built by the numbered migrations 0001-0031: the baseline is what it holds)") }
        for file in summary.applied { print("applied  \(file)") }
        for file in summary.currentApplied { print("applied  \(file)") }
        print("schema version \(summary.schemaVersion): \(summary.applied.count) versioned applied now, \(summary.alreadyApplied) already applied; "
              + "\(summary.currentApplied.count) current files applied")
    }
}
