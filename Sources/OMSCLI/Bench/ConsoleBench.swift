import ArgumentParser
import Foundation
import Logging
import NIOHTTP1
import OMSDomain
import OMSStore
import PostgresNIO

/// `oms bench console`: the operator console in headless Chromium on the benchmark registry.
struct ConsoleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The operator console in headless Chromium: page load to map and list drawn, and how soon an outage change shows in an open page during a storm.",
        discussion: """
            Uses the benchmark registry of --meters (database oms_bench_<meters>), cleared of feed events and \
            outages first (as oms bench storm does), then given --outages confirmed outages on distribution \
            points. Page load: a signed-in page opened afresh, from navigation start to the map and the list \
            drawn (the page's oms-console-drawn mark), --loads times. Change: an operator action (assign a crew, \
            through oms_outage_act) committed, to the row showing the crew in an open page (the list sorted \
            oldest first; a MutationObserver in the page; both clocks are this machine's), --changes times, 5 a \
            second, while last gasps are \
            posted at --storm-rate events/s (the rate reached is printed; --acknowledge durable, the default, \
            posts them as a head-end posting a storm does, answered once kept in the feed intake and correlated \
            behind the answer; applied, answered once correlated). Baseline: GET /health in the same \
            run, quiet and during the storm. Goals (issue 16): page load <= 2 s, change visible <= 1 s p99. \
            Needs chromium and chromium-driver (Debian).
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Registry size (meters).")
    var meters: Int = 1_000_000

    @Option(help: "Active outages on the map and the list.")
    var outages: Int = 500

    @Option(help: "Timed page loads.")
    var loads: Int = 10

    @Option(help: "Timed outage changes.")
    var changes: Int = 100

    @Option(name: .customLong("storm-rate"), help: "Last gasps per second posted while the changes are timed (0: none).")
    var stormRate: Int = 5_000

    @Option(help: "How the storm's batches are answered: durable (kept in the feed intake, Prefer: respond-async, correlated behind the answer) or applied (correlated before the answer).")
    var acknowledge: StormBench.Acknowledgement = .durable

    @Option(help: "Also write the figures as JSON to this file.")
    var json: String?

    /// The figures of one run, as written to --json.
    struct Result: Codable {
        var meters: Int
        var outages: Int
        var pageLoad: Figures
        var changeVisible: Figures
        /// From the commit to the announcement reaching the browser (a second stream of the page's).
        var changeAnnounced: Figures
        var changesNotSeen: Int
        var healthQuiet: Figures
        var healthDuringStorm: Figures
        var stormEventsPerSecond: Double
        /// How the storm's batches were answered (absent in figures written before: applied).
        var acknowledge: StormBench.Acknowledgement?
    }

    /// p50 and p99 of a sample, in milliseconds.
    struct Figures: Codable {
        var count: Int
        var p50Milliseconds: Double
        var p99Milliseconds: Double

        init(_ sample: LatencySample) {
            count = sample.count
            p50Milliseconds = sample.p50
            p99Milliseconds = sample.p99
        }
    }

    func validate() throws {
        guard meters >= BenchRegistry.minimumSize else { throw ValidationError("--meters must be at least \(BenchRegistry.minimumSize)") }
        guard (1...5_000).contains(outages) else { throw ValidationError("--outages: from 1 to 5000") }
        guard loads > 0, changes > 0 else { throw ValidationError("--loads and --changes must be positive") }
        guard stormRate >= 0 else { throw ValidationError("--storm-rate must not be negative") }
    }

    func run() async throws {
        let logger = database.makeLogger()
        let (meters, outages, loads, changes, stormRate, acknowledge) = (meters, outages, loads, changes, stormRate, acknowledge)
        let result = try await database.withDatabase(database: "oms_bench_\(meters)", logger: logger) { configuration, _ in
            let ids = try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                try await BenchRegistry.prepare(size: meters, rebuild: false, client: client, logger: logger)
                try await StormBenchStore(client: client, logger: logger).reset()
                return try await ConsoleBenchStore(client: client, logger: logger).createOutages(outages)
            }
            // Afterwards the registry is cleared again, whatever happened: the next benchmark starts clean.
            let clear = {
                try await DatabaseBootstrap.withClient(configuration, logger: logger) {
                    try await StormBenchStore(client: $0, logger: logger).reset()
                }
            }
            do {
                let result = try await DatabaseBootstrap.withClient(configuration, logger: logger) { writer in
                    try await LocalServer.with(configuration: configuration, logger: logger) { endpoint in
                        let driver = try await WebDriver.Driver.start()
                        do {
                            let result = try await Self.measure(
                                endpoint: endpoint, driver: driver, ids: ids, writer: ConsoleBenchStore(client: writer, logger: logger),
                                meters: meters, loads: loads, changes: changes, stormRate: stormRate, acknowledge: acknowledge)
                            await driver.stop()
                            return result
                        } catch {
                            await driver.stop()
                            throw error
                        }
                    }
                }
                try await clear()
                return result
            } catch {
                try? await clear()
                throw error
            }
        }
        var table = TextTable(columns: ["operation", "samples", "p50 ms", "p99 ms", "baseline GET /health p50 / p99 ms", "goal", "met"])
        table.append([
            "page load to map and list drawn (\(outages) outages)", "\(result.pageLoad.count)",
            String(format: "%.0f", result.pageLoad.p50Milliseconds), String(format: "%.0f", result.pageLoad.p99Milliseconds),
            String(format: "%.2f / %.2f (quiet)", result.healthQuiet.p50Milliseconds, result.healthQuiet.p99Milliseconds),
            "<= 2000 ms", result.pageLoad.p99Milliseconds <= 2000 ? "yes" : "no",
        ])
        table.append([
            "outage change visible in an open page", "\(result.changeVisible.count) (\(result.changesNotSeen) not seen)",
            String(format: "%.0f", result.changeVisible.p50Milliseconds), String(format: "%.0f", result.changeVisible.p99Milliseconds),
            String(format: "%.2f / %.2f (storm at %.0f events/s, ", result.healthDuringStorm.p50Milliseconds,
                   result.healthDuringStorm.p99Milliseconds, result.stormEventsPerSecond)
                + (acknowledge == .durable ? "answered durable)" : "answered applied)"),
            "p99 <= 1000 ms", result.changeVisible.p99Milliseconds <= 1000 && result.changesNotSeen == 0 ? "yes" : "no",
        ])
        table.append([
            "  of which: the announcement reaching the browser", "\(result.changeAnnounced.count)",
            String(format: "%.0f", result.changeAnnounced.p50Milliseconds), String(format: "%.0f", result.changeAnnounced.p99Milliseconds),
            "", "", "",
        ])
        print(table.render())
        if let json { try JSONOutput.write(result, to: json) }
    }

    static func measure(
        endpoint: LocalServer.Endpoint, driver: WebDriver.Driver, ids: [String], writer: ConsoleBenchStore,
        meters: Int, loads: Int, changes: Int, stormRate: Int, acknowledge: StormBench.Acknowledgement
    ) async throws -> Result {
        let page = try await WebDriver(driver)
        try await page.go(endpoint.base + "/")
        try await page.waitUntil("!document.getElementById('sign-in-view').hidden", "the sign-in form")
        try await page.type("#key", endpoint.key)
        try await page.click("#sign-in-button")
        try await page.waitUntil("performance.getEntriesByName('oms-console-drawn').length > 0", timeout: .seconds(60), "the first drawing")

        // Page loads: a fresh navigation each time (the session cookie signs it in).
        var pageLoad = LatencySample()
        for _ in 0..<loads {
            try await page.go(endpoint.base + "/?load=\(UUID().uuidString.prefix(6))")
            try await page.waitUntil("performance.getEntriesByName('oms-console-drawn').length > 0", timeout: .seconds(60), "the page drawn")
            let drawn = try await page.script("return performance.getEntriesByName('oms-console-drawn')[0].startTime;")
            let rows = try await page.script("return document.querySelectorAll('#outage-table tbody tr').length;") as? Int ?? 0
            guard rows >= min(ids.count, 500) else { throw WebDriverError("the list holds \(rows) outages, not \(ids.count)") }
            pageLoad.record(.milliseconds((drawn as? Double) ?? Double((drawn as? Int) ?? 0)))
        }
        let healthQuiet = try await LatencySample.measure(iterations: 200, warmup: 0) { _ in _ = try await endpoint.send(.GET, "/health") }
        try await page.waitUntil("document.getElementById('connection').classList.contains('live')", "the live stream")
        // The list sorted oldest first (the Age column, clicked twice), as an operator following the
        // outages open before a storm keeps it: by customers out, the default, a storm's substation
        // outages push the bench's distribution points' outages off the list's 500 rows, and a change
        // to a row not shown cannot be seen.
        for _ in 0..<2 { try await page.click("#outage-table th[data-key='first_detected_at'] button") }
        try await page.waitUntil(
            "document.querySelector(\"#outage-table th[data-key='first_detected_at']\").getAttribute('aria-sort') === 'ascending'",
            "the list sorted oldest first")

        // The row showing crew "BC-k": when the page first drew it (Date.now(), this machine's clock).
        try await page.script("""
            window.__seen = {};
            const body = document.querySelector('#outage-table tbody');
            new MutationObserver(() => {
              for (const cell of body.querySelectorAll('tr td:nth-child(9)')) {
                const text = cell.textContent;
                if (text.startsWith('BC-') && !(text in window.__seen)) window.__seen[text] = Date.now();
              }
            }).observe(body, { childList: true, subtree: true, characterData: true });
            // When the announcement itself reached the browser (a second stream): splits the time
            // into delivery and the page's own work.
            window.__announced = {};
            const probe = new EventSource('/api/v1/stream');
            for (const type of ['outage.updated', 'outage.confirmed']) {
              probe.addEventListener(type, (event) => {
                const change = JSON.parse(event.data);
                if (change.crew && change.crew.startsWith('BC-') && !(change.crew in window.__announced)) window.__announced[change.crew] = Date.now();
              });
            }
            """)

        // The storm, paced, and GET /health sampled meanwhile, while the changes are written.
        let stormSeconds = Double(changes) / 5 + 5
        let storm = Storm(meters: meters, events: max(1, Int(Double(stormRate) * stormSeconds)), batchSize: 250)
        let stormTask = Task { () -> Double in
            guard stormRate > 0 else { return 0 }
            return try await paced(storm, rate: Double(stormRate), acknowledge: acknowledge, endpoint: endpoint)
        }
        let healthTask = Task { () -> LatencySample in
            var sample = LatencySample()
            while !Task.isCancelled {
                let begun = ContinuousClock.now
                do {
                    _ = try await endpoint.send(.GET, "/health")
                } catch {
                    if Task.isCancelled { break }  // stopped while a request was under way
                    throw error
                }
                sample.record(ContinuousClock.now - begun)
                try? await Task.sleep(for: .milliseconds(20))
            }
            return sample
        }
        try await Task.sleep(for: .seconds(1))
        var written: [String: Double] = [:]
        for k in 0..<changes {
            let crew = "BC-\(k)"
            // An outage among the first 100 rows of the page's list now (a storm's outages push some
            // further down, even off the list's 500 rows).
            let shown = try await page.script(
                "return [...document.querySelectorAll('#outage-table tbody tr')].slice(0, 100).map((r) => r.dataset.id).filter((id) => id.startsWith('BENCH-CONSOLE-'));"
            ) as? [String] ?? []
            try await writer.assign(shown.isEmpty ? ids[k % ids.count] : shown[k % shown.count], crew: crew)
            written[crew] = Date().timeIntervalSince1970 * 1000
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .seconds(3))
        healthTask.cancel()
        let healthDuringStorm = try await healthTask.value
        let stormRateReached = try await stormTask.value
        let seen = try await page.script("return window.__seen;") as? [String: Any] ?? [:]
        let announced = try await page.script("return window.__announced;") as? [String: Any] ?? [:]
        var changeVisible = LatencySample()
        var changeAnnounced = LatencySample()
        var notSeen = 0
        for (crew, at) in written {
            if let time = (announced[crew] as? Double) ?? (announced[crew] as? Int).map(Double.init) {
                changeAnnounced.record(.milliseconds(max(0, time - at)))
            }
            guard let shown = (seen[crew] as? Double) ?? (seen[crew] as? Int).map(Double.init) else {
                notSeen += 1
                continue
            }
            changeVisible.record(.milliseconds(max(0, shown - at)))
        }
        await page.quit()
        return Result(
            meters: meters, outages: ids.count, pageLoad: Figures(pageLoad), changeVisible: Figures(changeVisible),
            changeAnnounced: Figures(changeAnnounced),
            changesNotSeen: notSeen, healthQuiet: Figures(healthQuiet), healthDuringStorm: Figures(healthDuringStorm),
            stormEventsPerSecond: stormRateReached, acknowledge: acknowledge)
    }

    /// Posts the storm's batches at `rate` events/s (at most 4 in flight; late batches go at once);
    /// the rate reached.
    static func paced(_ storm: Storm, rate: Double, acknowledge: StormBench.Acknowledgement, endpoint: LocalServer.Endpoint)
        async throws -> Double
    {
        let headers = acknowledge == .durable ? [("Prefer", "respond-async")] : []
        let batches = storm.batches()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for (index, batch) in batches.enumerated() {
                let due = start + .milliseconds(Int64(Double(index * storm.batchSize) / rate * 1000))
                if due > ContinuousClock.now { try await Task.sleep(until: due) }
                if inFlight >= 4 {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask {
                    _ = try await endpoint.send(
                        .POST, batch.kaifa ? "/api/v1/kaifa/events" : "/api/v1/onu/events", body: batch.body, headers: headers)
                }
                inFlight += 1
            }
            try await group.waitForAll()
        }
        return Double(storm.events) / (ContinuousClock.now - start).seconds
    }
}
