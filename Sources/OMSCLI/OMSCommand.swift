import ArgumentParser
import OMSStore
import PostgresNIO

/// `oms`: the outage correlation service's command-line tool.
public struct OMSCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "oms",
        abstract: "Outage correlation for electric utilities: SCADA, ONU, AMI and call-center evidence in one registry.",
        discussion: """
            Without --database-url (or OMS_DATABASE_URL / DATABASE_URL), oms runs its own private \
            PostgreSQL cluster under .oms/postgres in the working directory.
            """,
        subcommands: [
            DemoCommand.self, MigrateCommand.self, ImportCommand.self, IngestCommand.self, BenchCommand.self, ValidateCommand.self, ServeCommand.self, DatabaseCommand.self,
            MigrateRegistryCommand.self, KeysCommand.self, SimulateCommand.self, ReplayCommand.self, ScoreCommand.self,
            FuzzCommand.self, OutageCommand.self, ReliabilityCommand.self, ArchiveCommand.self, RestoreArchiveCommand.self,
        ]
    )
}

extension OMSCommand {
    /// Parses the command line and runs the command, like ArgumentParser's own
    /// `main()`, except that a failed SQL statement is reported in the server's
    /// words (message, detail, hint, SQLSTATE): PostgresNIO's own description of
    /// an error is deliberately generic.
    public static func runCommandLine() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: readable(error))
        }
    }

    /// The error as the command line reports it: a database error in the server's words.
    static func readable(_ error: any Error) -> any Error {
        error is PSQLError ? DatabaseFailure(message: error.readableDatabaseMessage) : error
    }
}

/// A database error as the command line prints it.
struct DatabaseFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { "database: \(message)" }
}
