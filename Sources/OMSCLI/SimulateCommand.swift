import ArgumentParser
import Foundation
import OMSDomain
import OMSFeeds
import OMSSimulation

/// `oms simulate …`: a synthetic utility to import and replay.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Generate a synthetic utility (oms simulate network) and its outages (oms simulate scenario), deterministic by seed.",
        subcommands: [Network.self, ScenarioCommand.self]
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

    /// `oms simulate scenario`: failures, feeds and ground truth on a simulated network.
    struct ScenarioCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scenario",
            abstract: "Write a scenario on a simulated network: the feeds' messages in delivery order (events.jsonl) and the ground truth (truth.json).",
            discussion: """
                Kinds: breaker-trip (one feeder locks out), storm (14 DPs, 5 feeders, 1 substation fail over two \
                hours), comm-noise (2% of meters go silent, nothing fails), mixed (a storm with comm noise). Any \
                knob overrides the kind's default. A feeder trips, recloses twice and locks out (SCADA); a \
                substation loses voltage; a DP has no telemetry. Every affected ONU sends a dying gasp and every \
                smart meter a power down (KAIFA, grouped into XML or JSON messages), each lost at the last-gasp \
                loss rate; customers call; at restoration, power-up messages. Some messages are delivered twice \
                or late. The same network, options and seed write the same files. Replay with oms replay, then \
                compare with oms score.
                """
        )

        @Option(help: "Folder written by oms simulate network (its simulation.json).") var network: String
        @Option(help: "breaker-trip, storm, comm-noise or mixed.") var kind: Scenario.Kind = .mixed
        @Option(help: "Folder to write events.jsonl and truth.json into.") var out: String
        @Option(help: "Seed of the random choices.") var seed: UInt64 = 1
        @Option(help: "Start time (ISO 8601; default 2026-01-15T12:00:00Z).") var start: String?
        @Option(name: .customLong("duration-minutes"), help: "Failures happen in the first 70% of this.") var durationMinutes: Int?
        @Option(name: .customLong("failed-dps"), help: "Distribution points that fail.") var failedDPs: Int?
        @Option(name: .customLong("failed-feeders"), help: "Feeders that lock out.") var failedFeeders: Int?
        @Option(name: .customLong("failed-substations"), help: "Substations that lose voltage.") var failedSubstations: Int?
        @Option(name: .customLong("last-gasp-loss"), help: "Share of last gasps (and power-up messages) lost, 0-1.") var lastGaspLoss: Double?
        @Option(name: .customLong("comm-noise"), help: "Share of meters that go silent without losing power, 0-1.") var commNoise: Double?
        @Option(help: "Share of messages delivered twice, 0-1.") var duplicates: Double?
        @Option(name: .customLong("out-of-order"), help: "Share of messages delivered 30 s to 5 min late, 0-1.") var outOfOrder: Double?
        @Option(name: .customLong("calls-per-customer"), help: "Expected calls per affected customer.") var callsPerCustomer: Double?
        @Option(name: .customLong("momentary-share"), help: "Share of failures restored within 5 minutes, 0-1.") var momentaryShare: Double?
        @Option(name: .customLong("restoration-minutes"), help: "Other failures' restoration, MIN-MAX minutes (20-180).") var restorationMinutes: String?
        @Option(name: .customLong("kaifa-xml-share"), help: "Share of KAIFA messages in SOAP XML (the rest JSON), 0-1.") var kaifaXMLShare: Double?
        @Option(name: .customLong("scada-delay"), help: "SCADA messages reach the service this many seconds late (0-3600; e.g. 120: after the last gasps).") var scadaDelay: Double?

        func parameters() throws -> Scenario.Parameters {
            var p = Scenario.Parameters.defaults(for: kind, seed: seed)
            if let start {
                guard let date = ISO8601Time.parse(start) else { throw ValidationError("--start must be an ISO 8601 time with a zone, not \(start)") }
                p.start = date
            }
            if let durationMinutes { p.durationMinutes = durationMinutes }
            if let failedDPs { p.failedDPs = failedDPs }
            if let failedFeeders { p.failedFeeders = failedFeeders }
            if let failedSubstations { p.failedSubstations = failedSubstations }
            if let lastGaspLoss { p.lastGaspLossRate = lastGaspLoss }
            if let commNoise { p.commNoiseRate = commNoise }
            if let duplicates { p.duplicateRate = duplicates }
            if let outOfOrder { p.outOfOrderRate = outOfOrder }
            if let callsPerCustomer { p.callsPerAffectedCustomer = callsPerCustomer }
            if let momentaryShare { p.momentaryShare = momentaryShare }
            if let kaifaXMLShare { p.kaifaXMLShare = kaifaXMLShare }
            if let scadaDelay {
                guard (0...3600).contains(scadaDelay) else { throw ValidationError("--scada-delay must be 0 to 3600 seconds, not \(scadaDelay)") }
                p.scadaDelaySeconds = scadaDelay
            }
            if let restorationMinutes {
                let bounds = restorationMinutes.split(separator: "-").compactMap { Int($0) }
                guard bounds.count == 2, bounds[0] > 0, bounds[0] <= bounds[1] else {
                    throw ValidationError("--restoration-minutes must be MIN-MAX minutes (20-180), not \(restorationMinutes)")
                }
                (p.restorationMinutesMin, p.restorationMinutesMax) = (bounds[0], bounds[1])
            }
            for (name, value) in [("--last-gasp-loss", p.lastGaspLossRate), ("--comm-noise", p.commNoiseRate),
                                  ("--duplicates", p.duplicateRate), ("--out-of-order", p.outOfOrderRate),
                                  ("--momentary-share", p.momentaryShare), ("--kaifa-xml-share", p.kaifaXMLShare)]
            where !(0...1).contains(value) {
                throw ValidationError("\(name) must be between 0 and 1, not \(value)")
            }
            guard p.durationMinutes > 1, p.failedDPs >= 0, p.failedFeeders >= 0, p.failedSubstations >= 0, p.callsPerAffectedCustomer >= 0 else {
                throw ValidationError("--duration-minutes must be over 1; failed devices and calls per customer 0 or more")
            }
            return p
        }

        func validate() throws { _ = try parameters() }

        func run() async throws {
            let network = try NetworkFiles.read(from: self.network)
            let scenario = Scenario(network: network, parameters: try parameters())
            let paths = try ScenarioFiles.write(scenario, to: out)
            let truth = scenario.truth
            let byKind = Dictionary(grouping: truth.failures, by: \.device).mapValues(\.count)
            let failed = DeviceKind.allCases.reversed().map { "\(byKind[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
            print("""
                \(kind.rawValue): \(truth.failures.count) failures (\(failed)), \(Set(truth.failures.flatMap(\.meters)).count) meters \
                without power, \(truth.commNoise.count) meters silent without an outage
                \(truth.counts.messages) messages (\(truth.counts.events) events: \(truth.counts.duplicates) repeated, \
                \(truth.counts.delayed) late, \(truth.counts.calls) calls; \(truth.counts.lostLastGasps) last gasps lost), seed \(seed)
                """)
            for path in paths { print("  \(path)") }
            print("replay with: oms replay \(out)   then: oms score \(out)")
        }
    }
}

extension Scenario.Kind: ExpressibleByArgument {}
