import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import OMSDomain
import OMSHTTP
import OMSSimulation
import OMSStore
import PostgresNIO

/// `oms bench storm`: last gasps, KAIFA and ONU mixed, in batches through HTTP,
/// against a plain INSERT of the same rows into the raw event tables (same run).
struct StormBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storm",
        abstract: "A last-gasp storm (KAIFA and ONU, batches over HTTP): events/s and p99 batch latency against a plain INSERT.",
        discussion: """
            Uses the benchmark registry of --meters (database oms_bench_<meters>). Each run first clears the \
            feed, outage, device-state and audit tables and puts the meters back on (untimed). \
            --kind last-gasps: batches alternate between POST /api/v1/kaifa/events and POST \
            /api/v1/onu/events. --kind mixed: the simulator's mixed storm (oms simulate scenario --kind mixed) \
            on the registry's pool substations, its failures scaled to the registry (the issue-7 storm's 20 per \
            100,000 meters): last gasps and power-ups from both feeds (half the KAIFA messages SOAP XML, one \
            per request), SCADA lockouts and closes, customer calls, communication noise, repeats and late \
            deliveries, in delivery order, consecutive JSON messages of one feed batched. The baseline is a \
            plain INSERT of as many last gasps into the raw tables, in the same run.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Registry size (meters).")
    var meters: Int = 1_000_000

    @Option(help: "last-gasps, or mixed (the simulator's mixed storm on the registry; its size follows the registry's).")
    var kind: Kind = .lastGasps

    @Option(help: "Last-gasp events in the storm (--kind last-gasps).")
    var events: Int = 100_000

    @Option(help: "--kind last-gasps: which meters go out: spread (every tenth meter of the registry) or areas (meters side by side in the registry's network order: whole distribution points and feeders, as a storm takes them).")
    var pattern: Storm.Pattern = .spread

    @Option(help: "Events per batch (one HTTP request).")
    var batch: Int = 1_000

    @Option(help: "Batches in flight at once.")
    var concurrency: Int = 2

    @Option(help: "When a batch is answered: applied (correlated before the answer) or durable (kept in the feed intake, Prefer: respond-async, and correlated behind the answer; the lag from each answer to its batch applied is measured).")
    var acknowledge: Acknowledgement = .applied

    @Option(name: .customLong("meter-feeds"), help: "--acknowledge applied: how the service applies each synchronous batch: adaptive (direct when the service has nothing else in hand, else grouped), grouped (through the feed intake, with the others waiting there) or direct (one call of the feed's batch function in the request), as oms serve --meter-feeds.")
    var meterFeeds: ServerSettings.MeterFeedApplication = .adaptive

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    @Option(name: .customLong("scenario-out"), help: "--kind mixed: write the scenario (events.jsonl, truth.json) into this folder, for oms score against the bench database after the run.")
    var scenarioOut: String?

    /// When the service answers a batch.
    enum Acknowledgement: String, ExpressibleByArgument, Codable, Sendable {
        case applied, durable
    }

    /// What the storm is made of.
    enum Kind: String, ExpressibleByArgument, Codable, Sendable {
        /// KAIFA and ONU last gasps only, a meter each (`Storm`).
        case lastGasps = "last-gasps"
        /// The simulator's mixed storm (`MixedStorm`).
        case mixed
    }

    /// The figures of one run.
    struct Result: Codable {
        var meters: Int
        /// What the storm was made of (absent in figures written before mixed storms: last gasps).
        var kind: Kind?
        /// Last gasps: which meters went out (absent in figures written before: spread).
        var pattern: Storm.Pattern?
        var events: Int
        /// The HTTP requests that carried them.
        var requests: Int?
        var batchSize: Int
        var concurrency: Int
        var seconds: Double
        var eventsPerSecond: Double
        var batchP50Milliseconds: Double
        var batchP99Milliseconds: Double
        var correlated: Int
        var baselineEventsPerSecond: Double
        var ratioToBaseline: Double
        var acknowledge: Acknowledgement
        /// Applied acknowledgement: how each batch was applied (absent in figures written before: direct).
        var meterFeeds: String?
        /// Durable acknowledgement: from the first batch sent to the last one applied (all correlated).
        var appliedSeconds: Double?
        /// From each batch's answer to its messages applied (seen gone from the intake, polled every `pollInterval`).
        var lagP50Milliseconds: Double?
        var lagP99Milliseconds: Double?
        /// The largest resident set (MiB) of the process serving the storm (service and the bench's
        /// client together) while it was sent and correlated.
        var peakResidentMegabytes: Double?
        /// The same process's resident set just before the storm was sent (the service idle).
        var residentBeforeMegabytes: Double?
    }

    func validate() throws {
        guard meters >= BenchRegistry.minimumSize else {
            throw ValidationError("--meters must be at least \(BenchRegistry.minimumSize)")
        }
        guard events > 0, batch > 0, concurrency > 0 else { throw ValidationError("--events, --batch and --concurrency must be positive") }
        if scenarioOut != nil, kind != .mixed { throw ValidationError("--scenario-out needs --kind mixed") }
        if kind == .mixed, meters < MixedStorm.minimumMeters {
            throw ValidationError("--kind mixed needs --meters of at least \(MixedStorm.minimumMeters)")
        }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let (meters, kind, pattern, batch, concurrency, acknowledge, meterFeeds) =
            (meters, kind, pattern, batch, concurrency, acknowledge, meterFeeds)
        let traffic: StormTraffic
        if kind == .mixed {
            let scenario = MixedStorm.scenario(meters: meters)
            if let scenarioOut { _ = try ScenarioFiles.write(scenario, to: scenarioOut) }
            traffic = MixedStorm.traffic(scenario, batch: batch)
        } else {
            traffic = Storm(meters: meters, events: events, batchSize: batch, pattern: pattern).traffic
        }
        let events = traffic.events
        let result = try await database.withDatabase(database: "oms_bench_\(meters)", logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await BenchRegistry.prepare(size: meters, rebuild: false, client: client, logger: logger)
            }
            // Baseline: as many last gasps, plain INSERTs into the raw tables, batch by batch.
            let baselineStorm = Storm(meters: meters, events: events, batchSize: batch, pattern: pattern)
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { try await baselineStorm.reset($0, logger: logger) }
            let baselineSeconds = try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await baselineStorm.plainInserts(client, logger: logger)
            }

            try await DatabaseBootstrap.withClient(configuration, logger: logger) { try await baselineStorm.reset($0, logger: logger) }
            // The service runs in this process (with the bench's client and its batches): its peak RSS
            // while the storm is sent and correlated is an upper bound of the service's own.
            let ((seconds, latencies, applied), beforeBytes, peakBytes) = try await LocalServer.with(
                configuration: configuration, logger: logger, meterFeeds: meterFeeds
            ) { endpoint in
                try await ResidentMemory.peak {
                    switch acknowledge {
                    case .applied:
                        let (seconds, latencies) = try await traffic.send(to: endpoint, concurrency: concurrency)
                        return (seconds, latencies, AppliedBehind?.none)
                    case .durable:
                        return try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                            try await traffic.sendDurable(
                                to: endpoint, concurrency: concurrency, intake: FeedIntake(client: client, logger: logger))
                        }
                    }
                }
            }
            let correlated = try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await StormBenchStore(client: client, logger: logger).correlatedEventCount()
            }
            let rate = Double(events) / seconds
            let baseline = Double(events) / baselineSeconds
            return Result(
                meters: meters, kind: kind, pattern: kind == .lastGasps ? pattern : nil, events: events,
                requests: traffic.requests.count, batchSize: batch,
                concurrency: concurrency, seconds: seconds,
                eventsPerSecond: rate, batchP50Milliseconds: latencies.p50, batchP99Milliseconds: latencies.p99,
                correlated: correlated, baselineEventsPerSecond: baseline, ratioToBaseline: rate / baseline,
                acknowledge: acknowledge, meterFeeds: acknowledge == .applied ? meterFeeds.rawValue : nil,
                appliedSeconds: applied?.seconds, lagP50Milliseconds: applied?.lag.p50,
                lagP99Milliseconds: applied?.lag.p99, peakResidentMegabytes: peakBytes.map { Double($0) / 1_048_576 },
                residentBeforeMegabytes: beforeBytes.map { Double($0) / 1_048_576 })
        }
        let mixed = result.kind == .mixed
        var table = TextTable(columns: [
            "registry", "storm", "events", "requests", "batch", "in flight", "answered", "seconds", "events/s answered",
            "batch p50 ms", "batch p99 ms", mixed ? "AMI and ONU events linked to outages" : "correlated",
            "baseline events/s (plain INSERT)", "ratio", "goal", "peak RSS MiB (service + client)",
        ])
        table.append([
            "\(result.meters)",
            (result.kind ?? .lastGasps).rawValue + (result.pattern.map { " (\($0.rawValue))" } ?? ""), "\(result.events)",
            result.requests.map { "\($0)" } ?? "-", "\(result.batchSize)", "\(result.concurrency)",
            result.acknowledge == .durable ? "durable (intake)" : "applied (\(result.meterFeeds ?? "direct"))",
            String(format: "%.1f", result.seconds), String(format: "%.0f", result.eventsPerSecond),
            String(format: "%.1f", result.batchP50Milliseconds), String(format: "%.1f", result.batchP99Milliseconds),
            mixed ? "\(result.correlated)" : "\(result.correlated) of \(result.events)",
            String(format: "%.0f", result.baselineEventsPerSecond),
            String(format: "%.3fx", result.ratioToBaseline), mixed ? ">= 10000 events/s" : ">= 20000 events/s",
            result.peakResidentMegabytes.map { String(format: "%.0f", $0) } ?? "-",
        ])
        print(table.render())
        if let appliedSeconds = result.appliedSeconds, let p50 = result.lagP50Milliseconds, let p99 = result.lagP99Milliseconds {
            var behind = TextTable(columns: [
                mixed ? "applied behind the answers" : "correlated behind the answers",
                "seconds (first sent to last applied)", mixed ? "events/s applied" : "events/s correlated",
                "lag p50 ms", "lag p99 ms", "goal",
            ])
            behind.append([
                "\(result.events) events", String(format: "%.1f", appliedSeconds),
                String(format: "%.0f", Double(result.events) / appliedSeconds), String(format: "%.0f", p50),
                String(format: "%.0f", p99), "lag p99 <= 2000 ms; 100,000 events correlated <= 10 s",
            ])
            print(behind.render())
        }
        if let json {
            try JSONOutput.write(result, to: json)
        }
    }
}

/// The storm's events: event i is a last gasp of meter 1 + 10 i (`spread`) or 1 + i (`areas`),
/// modulo the registry, from the head-end when i is even, from its ONU when odd; batches
/// alternate feeds.
struct Storm: Sendable {
    let meters: Int
    let events: Int
    let batchSize: Int
    var pattern: Pattern = .spread
    let run = UUID().uuidString.prefix(8)
    let start = Date()

    /// Which meters go out.
    enum Pattern: String, ExpressibleByArgument, Codable, Sendable {
        /// Every tenth meter of the registry: a tenth of each distribution point.
        case spread
        /// Meters side by side in the registry's order, which is the network's (the benchmark
        /// registry is imported distribution point by distribution point): whole distribution
        /// points and feeders, as a storm takes them, and side by side on disk.
        case areas
    }

    func meter(_ i: Int) -> Int {
        switch pattern {
        case .spread: 1 + (10 * i) % (meters - 1)
        case .areas: 1 + i % (meters - 1)
        }
    }

    /// Batches of one feed each: (is KAIFA, JSON array text, events).
    func batches() -> [(kaifa: Bool, body: String, events: Int)] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var kaifa: [String] = []
        var onu: [String] = []
        for i in 0..<events {
            let time = formatter.string(from: start.addingTimeInterval(60 + Double(i) * 0.0001))
            if i % 2 == 0 {
                kaifa.append(#"{"mRID": "STORM-\#(run)-K\#(i)", "createdDateTime": "\#(time)", "eventTypeRef": "3.26.136.47", "assetMRID": "\#(BenchRegistry.assetMRID(meter(i)))"}"#)
            } else {
                onu.append(#"{"type": "ONU_LastGaspAlert", "eventId": "STORM-\#(run)-O\#(i)", "onuId": "\#(BenchRegistry.onuID(meter(i)))", "timestamp": "\#(time)"}"#)
            }
        }
        func chunks(_ items: [String], kaifa: Bool) -> [(Bool, String, Int)] {
            stride(from: 0, to: items.count, by: batchSize).map { start in
                let part = items[start..<min(start + batchSize, items.count)]
                return (kaifa, "[" + part.joined(separator: ",") + "]", part.count)
            }
        }
        let k = chunks(kaifa, kaifa: true)
        let o = chunks(onu, kaifa: false)
        var interleaved: [(kaifa: Bool, body: String, events: Int)] = []
        for index in 0..<max(k.count, o.count) {
            if index < k.count { interleaved.append((kaifa: k[index].0, body: k[index].1, events: k[index].2)) }
            if index < o.count { interleaved.append((kaifa: o[index].0, body: o[index].1, events: o[index].2)) }
        }
        return interleaved
    }

    /// The batches as HTTP requests.
    var traffic: StormTraffic {
        StormTraffic(requests: batches().map { batch in
            StormRequest(
                path: batch.kaifa ? "/api/v1/kaifa/events" : "/api/v1/onu/events", contentType: "application/json",
                body: batch.body, events: batch.events)
        })
    }

    /// Clears feed, outage, device-state and audit tables and puts the meters back on (untimed).
    func reset(_ client: PostgresClient, logger: Logger) async throws {
        try await StormBenchStore(client: client, logger: logger).reset()
    }

    /// The same rows, INSERTed as they are into the raw tables, one statement per batch; seconds taken.
    func plainInserts(_ client: PostgresClient, logger: Logger) async throws -> Double {
        let store = StormBenchStore(client: client, logger: logger)
        let clock = ContinuousClock()
        let started = clock.now
        for batch in batches() {
            if batch.kaifa {
                try await store.insertRawKAIFAEvents(jsonArray: batch.body)
            } else {
                try await store.insertRawONUEvents(jsonArray: batch.body)
            }
        }
        return (clock.now - started).seconds
    }
}

/// One request of a storm: a feed's route, the body and how many events it carries.
struct StormRequest: Sendable {
    var path: String
    var contentType: String
    var body: String
    var events: Int
}

/// A storm's requests, sent to a service in order, a few in flight at once.
struct StormTraffic: Sendable {
    let requests: [StormRequest]

    var events: Int { requests.reduce(0) { $0 + $1.events } }

    /// Posts every request, `concurrency` at a time, each with `headers`; `answered` gets each
    /// answer's body and the moment it came. Wall seconds and request latencies.
    func send(
        to endpoint: LocalServer.Endpoint, concurrency: Int, headers: [(String, String)] = [],
        answered: @escaping @Sendable (ByteBuffer, ContinuousClock.Instant) async throws -> Void = { _, _ in }
    ) async throws -> (Double, LatencySample) {
        let all = requests
        let clock = ContinuousClock()
        let started = clock.now
        var latencies = LatencySample()
        try await withThrowingTaskGroup(of: Duration.self) { group in
            var next = 0
            func submit() {
                let request = all[next]
                next += 1
                group.addTask {
                    let begun = ContinuousClock.now
                    let reply = try await endpoint.send(
                        .POST, request.path, body: request.body, contentType: request.contentType, headers: headers)
                    let answeredAt = ContinuousClock.now
                    try await answered(reply, answeredAt)
                    return answeredAt - begun
                }
            }
            while next < min(concurrency, all.count) { submit() }
            while let latency = try await group.next() {
                latencies.record(latency)
                if next < all.count { submit() }
            }
        }
        return ((clock.now - started).seconds, latencies)
    }

    /// The oldest requests waiting that every poll of the intake asks about.
    static let polledOldest = 500
    /// The pause between two polls of the intake: a lag is measured up to this much longer than
    /// it was, never shorter (2.5% of the 2 s goal). Every 10 ms, the polls took 11-13 s of the
    /// server's time in the mixed storm at 1M (3,800 polls of 3.4 ms, 65 s, 2 cores).
    static let pollInterval = Duration.milliseconds(50)
    /// Every this many polls, all the requests waiting are asked about.
    static let fullPollEvery = 20

    /// Posts every request with `Prefer: respond-async`, `concurrency` at a time, while polling the
    /// intake every `pollInterval` for the requests answered and not yet applied: wall seconds to the last
    /// answer, the answers' latencies, and how the correlation behind them went.
    ///
    /// A poll asks about the oldest `polledOldest` requests waiting (the intake applies the oldest
    /// first), and about all of them every `fullPollEvery`th poll, so that one applied out of order
    /// is seen within about a second. Asking about every one each time cost the server in
    /// proportion to the backlog: 25-33 ms a poll, a third of a core, in the mixed storm at 1M,
    /// whose 17,518 small requests leave thousands waiting: the bench loaded what it measured.
    func sendDurable(to endpoint: LocalServer.Endpoint, concurrency: Int, intake: FeedIntake) async throws
        -> (Double, LatencySample, AppliedBehind?)
    {
        let clock = ContinuousClock()
        let started = clock.now
        let tracker = IntakeTracker()
        let watching = Task {
            var lag = LatencySample()
            var lastApplied = clock.now
            var polls = 0
            while true {
                polls += 1
                let (asked, sending) = await tracker.pending(oldest: polls % Self.fullPollEvery == 0 ? nil : Self.polledOldest)
                if asked.isEmpty && !sending { break }
                if !asked.isEmpty {
                    let waiting = try await intake.waiting(among: asked.map(\.id))
                    let now = clock.now
                    let applied = asked.filter { !waiting.contains($0.id) }
                    for batch in applied { lag.record(now - batch.answeredAt) }
                    if !applied.isEmpty { lastApplied = now }
                    await tracker.applied(applied.map(\.id))
                }
                try await Task.sleep(for: Self.pollInterval)
            }
            return AppliedBehind(seconds: (lastApplied - started).seconds, lag: lag)
        }
        let seconds: Double
        let latencies: LatencySample
        do {
            (seconds, latencies) = try await send(
                to: endpoint, concurrency: concurrency, headers: [("Prefer", "respond-async")]
            ) { reply, answeredAt in
                let accepted = try JSONDecoder().decode(Accepted.self, from: Data(reply.readableBytesView))
                await tracker.answered(accepted.intakeID, at: answeredAt)
            }
        } catch {
            watching.cancel()
            throw error
        }
        await tracker.sent()
        return (seconds, latencies, try await watching.value)
    }

    /// The part of a 202 answer the bench reads.
    struct Accepted: Decodable {
        var intakeID: Int64
        enum CodingKeys: String, CodingKey { case intakeID = "intake_id" }
    }
}

/// How the storm's correlation behind durable answers went.
struct AppliedBehind: Sendable {
    /// From the first batch sent to the last one seen applied.
    var seconds: Double
    /// From each batch's answer to its messages applied.
    var lag: LatencySample
}

/// The storm's batches answered and not yet seen applied, kept in the order of their ids (the
/// intake's, given in order of arrival), so that a poll takes the oldest without sorting the
/// backlog: copying and sorting thousands of waiting requests at every poll was 8% of the bench
/// process's CPU in the mixed storm at 1M (perf), beside the service it measures.
actor IntakeTracker {
    private var answeredAt: [Int64: ContinuousClock.Instant] = [:]
    /// The ids waiting, lowest first.
    private var order: [Int64] = []
    private var sending = true

    func answered(_ id: Int64, at instant: ContinuousClock.Instant) {
        guard answeredAt.updateValue(instant, forKey: id) == nil else { return }
        // Answers come nearly in id order: the place is found from the end.
        var index = order.endIndex
        while index > order.startIndex, order[index - 1] > id { index -= 1 }
        order.insert(id, at: index)
    }

    func applied(_ ids: [Int64]) {
        let gone = Set(ids.filter { answeredAt.removeValue(forKey: $0) != nil })
        if !gone.isEmpty { order.removeAll { gone.contains($0) } }
    }

    func sent() { sending = false }

    /// The batches waiting (id, when answered), the `oldest` lowest ids (all when nil), and
    /// whether more may come.
    func pending(oldest limit: Int?) -> ([(id: Int64, answeredAt: ContinuousClock.Instant)], Bool) {
        let ids = limit.map { order.prefix($0) } ?? order[...]
        return (ids.compactMap { id in answeredAt[id].map { (id: id, answeredAt: $0) } }, sending)
    }
}
