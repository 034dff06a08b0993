import ArgumentParser

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
            MigrateRegistryCommand.self,
        ]
    )
}
