import ArgumentParser
import Foundation
import OMSSimulation

/// `oms simulate …`: a synthetic utility to import and replay.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Generate a synthetic utility (oms simulate network), deterministic by seed.",
        subcommands: [Network.self]
    )

    struct Network: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic network and registry in oms import's formats (substations, feeders, distribution points, customers, meters).",
            discussion: """
                Substations spread over a region, feeders radiating from them, distribution points every ~250 m \
                along each feeder, meters within ~100 m of their distribution point, one customer per meter. A \
                share of premises has a fiber ONU (some ONUs serve two meters); smart meters carry KAIFA asset \
                and usage-point mRIDs. The same options and seed write the same files.
                """
        )

        @Option(help: "Substations.") var substations: Int = 5
        @Option(name: .customLong("feeders-per-substation"), help: "Feeders per substation.") var feedersPerSubstation: Int = 6
        @Option(name: .customLong("dps-per-feeder"), help: "Distribution points per feeder.") var dpsPerFeeder: Int = 20
        @Option(help: "Meters (and customers).") var meters: Int = 10_000
        @Option(help: "Seed of the random choices.") var seed: UInt64 = 1
        @Option(help: "Folder to write the files into.") var out: String
        @Option(help: "csv or geojson.") var format: String = "csv"

        func validate() throws {
            guard substations > 0, feedersPerSubstation > 0, dpsPerFeeder > 0 else {
                throw ValidationError("--substations, --feeders-per-substation and --dps-per-feeder must be positive")
            }
            guard meters >= 0 else { throw ValidationError("--meters must be 0 or more") }
            guard NetworkFiles.Format(rawValue: format) != nil else { throw ValidationError("--format must be csv or geojson, not \(format)") }
        }

        func run() async throws {
            let network = SimulatedNetwork(.init(
                substations: substations, feedersPerSubstation: feedersPerSubstation, dpsPerFeeder: dpsPerFeeder,
                meters: meters, seed: seed))
            let paths = try NetworkFiles.write(network, to: out, format: NetworkFiles.Format(rawValue: format)!)
            let shared = Dictionary(grouping: network.premises.compactMap(\.onuID), by: { $0 }).values.filter { $0.count > 1 }.count
            print("""
                \(network.substations.count) substations, \(network.feeders.count) feeders, \(network.distributionPoints.count) distribution points, \
                \(network.premises.count) meters and customers (\(network.premises.filter { $0.assetMRID != nil }.count) smart, \
                \(network.premises.filter { $0.onuID != nil }.count) with an ONU, \(shared) ONUs shared by two meters), seed \(seed)
                """)
            for path in paths { print("  \(path)") }
            print("import with: oms import \(out)")
        }
    }
}
