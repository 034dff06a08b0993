import ArgumentParser

/// `oms bench`: performance tables, each against a baseline measured in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: all of them in one table (default), or one: the SCADA workflow, a last-gasp storm, registry import, registry migration, proximity search, API reads.",
        subcommands: [AllBench.self, SCADABench.self, StormBench.self, ImportBench.self, ProximityBench.self, RegistryMigrationBench.self, APIBench.self,
                      ConsoleBench.self, HistoryBench.self],
        defaultSubcommand: AllBench.self
    )
}
