import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import OMSDomain
import OMSSimulation
import OMSStore

/// `oms replay`: sends a scenario's messages to the service over HTTP, in order.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send a scenario (oms simulate scenario) to the service over HTTP, in delivery order; report progress and events/s.",
        discussion: """
            FILE is a scenario folder or its events.jsonl. With --url and --key (or $OMS_API_KEY) the messages go to \
            that service; without --url, to the service run in this process on the configured database (the \
            managed cluster by default), with a key made for the run. One request at a time, so the service sees \
            the feeds' order: consecutive JSON messages of one feed go as one array (up to --batch), each KAIFA \
            XML message alone. Without --speed, as fast as the service answers; --speed 1 keeps the scenario's \
            pace, --speed 60 a minute per second. Writes delivery.json next to the events (or --log): when each \
            request was sent and answered, which oms score uses for the detection latency. A request that gets no \
            answer (the connection refused, reset or timed out), or a 503, 429, 502 or 504, is sent again, the same \
            messages with the same ids, after a backoff (or the service's Retry-After) until --retry-for seconds have \
            passed: delivery is at least once, and the service counts a message it already has as a repeat. \
            --acknowledge durable sends each request with Prefer: respond-async, as a head-end posting a storm \
            does: answered once kept in the feed intake, correlated behind the answer; the replay then waits until \
            the service's intake is empty (GET /ready), so that oms score reads what every message did.
            """
    )

    @Argument(help: "A scenario folder, or its events.jsonl.")
    var file: String

    @Option(help: "Scenario seconds per wall-clock second (1: real time). Default: as fast as possible.")
    var speed: Double?

    @Option(help: "The service's base URL (http://host:8080). Default: a service in this process.")
    var url: String?

    @Option(help: "API key with the ingest scopes (default: $OMS_API_KEY).")
    var key: String?

    @Option(help: "Most messages per request.")
    var batch: Int = 500

    @Option(help: "Where to write the delivery log (default: delivery.json next to the events).")
    var log: String?

    @Option(name: .customLong("retry-for"), help: "Seconds one request is sent again while it gets no answer or a 503/429 (default 300; 0: never).")
    var retryFor: Double = 300

    @Option(help: "When a request is answered: applied (correlated before the answer) or durable (kept in the feed intake, Prefer: respond-async; the replay waits for the intake to be empty at the end).")
    var acknowledge: StormBench.Acknowledgement = .applied

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let speed, !(speed > 0) { throw ValidationError("--speed must be above 0") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        guard retryFor >= 0, retryFor.isFinite else { throw ValidationError("--retry-for must be 0 or more seconds") }
        if url != nil, apiKey == nil { throw ValidationError("--url needs --key (or $OMS_API_KEY)") }
    }

    var apiKey: String? { key ?? ProcessInfo.processInfo.environment["OMS_API_KEY"].flatMap { $0.isEmpty ? nil : $0 } }

    func run() async throws {
        let logger = database.makeLogger()
        let eventsPath = ScenarioFiles.path(file, file: ScenarioFiles.events)
        let deliveries = try ScenarioFiles.readDeliveries(eventsPath)
        let replayer = Replayer(
            deliveries: deliveries, speed: speed, batch: batch, retryFor: .milliseconds(Int64(retryFor * 1000)),
            durable: acknowledge == .durable)
        let report: Replayer.Report
        if let url {
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                report = try await replayer.run(base: url, key: apiKey!, http: http, progress: Self.progress)
                try await http.shutdown()
            } catch {
                try? await http.shutdown()
                throw error
            }
        } else {
            report = try await database.withDatabase(logger: logger) { configuration, _ in
                try await LocalServer.with(configuration: configuration, logger: logger) { endpoint in
                    try await replayer.run(base: endpoint.base, key: endpoint.key, http: endpoint.http, progress: Self.progress)
                }
            }
        }
        let logPath = log ?? ((eventsPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(ScenarioFiles.delivery)
        try ScenarioFiles.write(report.log, to: logPath)
        print(report.summary)
        for problem in report.problems.prefix(5) { print("  refused: \(problem)") }
        print("delivery log: \(logPath)")
    }

    @Sendable static func progress(_ line: String) {
        FileHandle.standardError.write(Data("replay: \(line)\n".utf8))
    }
}

/// Sends deliveries to a service, one request at a time, and keeps the delivery log.
///
/// Delivery is at least once: a request that gets no answer, or an answer that says "later"
/// (503, 429, 502, 504), is sent again with the same body (the same message ids) until `retryFor`
/// has passed since its first attempt; the service stores a message once however often it comes.
struct Replayer: Sendable {
    let deliveries: [Delivery]
    let speed: Double?
    let batch: Int
    /// How long one request is retried; zero: never.
    var retryFor: Duration = .seconds(300)
    /// Each request with `Prefer: respond-async` (answered once kept in the feed intake), and at the
    /// end a wait until the service's intake is empty.
    var durable = false

    /// What a replay did.
    struct Report: Sendable {
        var messages = 0
        var requests = 0
        var applied = 0
        /// Stored, but older than the meters' state: no status change applied.
        var late = 0
        var duplicates = 0
        var rejected = 0
        /// Kept in the feed intake (answered durable, applied behind the answer).
        var accepted = 0
        /// Durable: from the start to the service's intake found empty.
        var appliedSeconds: Double?
        /// Attempts sent again (after no answer, or a 503/429/502/504).
        var retries = 0
        var seconds = 0.0
        /// The service's words for refused messages (the first few).
        var problems: [String] = []
        var log = DeliveryLog(speed: nil, requests: [])

        var events: Int { applied + late + duplicates + rejected + accepted }

        var summary: String {
            if let appliedSeconds {
                return String(
                    format: "replayed %d messages in %d requests, %.1f s: %d events (%d kept in the intake, %d refused), %.0f events/s answered; all applied after %.1f s",
                    messages, requests, seconds, events, accepted, rejected, seconds > 0 ? Double(events) / seconds : 0, appliedSeconds)
                    + (retries > 0 ? ", \(retries) requests sent again" : "")
            }
            return String(
                format: "replayed %d messages in %d requests, %.1f s: %d events (%d applied, %d late, %d repeats, %d refused), %.0f events/s",
                messages, requests, seconds, events, applied, late, duplicates, rejected, seconds > 0 ? Double(events) / seconds : 0)
                + (retries > 0 ? ", \(retries) requests sent again" : "")
        }
    }

    /// The counts a batch answer carries.
    struct BatchCounts: Decodable {
        var applied: Int
        var late: Int?
        var duplicates: Int
        var rejected: Int
    }

    /// The outcome a single message's answer names.
    struct SingleOutcome: Decodable {
        var outcome: FeedOutcome?
    }

    /// The counts of an answer kept in the feed intake (202).
    struct KeptCounts: Decodable {
        var accepted: Int
        var rejected: Int
    }

    /// What `GET /ready` says of the feed intake.
    struct Readiness: Decodable {
        var intakeBacklogEvents: Int?

        enum CodingKeys: String, CodingKey {
            case intakeBacklogEvents = "intake_backlog_events"
        }
    }

    func run(base: String, key: String, http: HTTPClient, progress: @Sendable (String) -> Void) async throws -> Report {
        var report = Report()
        report.log.speed = speed
        guard let firstTime = deliveries.first?.deliverAt else { return report }
        let clock = ContinuousClock()
        let started = clock.now
        var lastProgress = started
        /// When (after the start) delivery `index` is due; zero when replaying as fast as possible.
        func due(_ index: Int) -> Duration {
            guard let speed else { return .zero }
            return .milliseconds(Int64(deliveries[index].deliverAt.timeIntervalSince(firstTime) / speed * 1000))
        }
        var index = 0
        while index < deliveries.count {
            let first = deliveries[index]
            try await clock.sleep(until: started + due(index))
            // Consecutive JSON messages of one feed (already due) go as one array.
            var end = index + 1
            if first.contentType == "application/json" {
                let now = clock.now - started
                while end < deliveries.count, end - index < batch, deliveries[end].feed == first.feed,
                      deliveries[end].contentType == "application/json", due(end) <= now {
                    end += 1
                }
            }
            let body = end - index == 1 ? first.body : Self.jsonArray(deliveries[index..<end].map(\.body))
            var request = HTTPClientRequest(url: base + first.feed.path)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            request.headers.add(name: "Content-Type", value: first.contentType)
            if durable { request.headers.add(name: "Prefer", value: "respond-async") }
            request.body = .bytes(ByteBuffer(string: body))
            let sentAt = Date()
            let (status, answer, retries) = try await send(request, http: http, seq: first.seq, progress: progress)
            report.retries += retries
            let answeredAt = Date()
            if status == 202, let kept = try? JSONDecoder().decode(KeptCounts.self, from: Data(answer.readableBytesView)) {
                report.accepted += kept.accepted
                report.rejected += kept.rejected
                if kept.rejected > 0, report.problems.count < 5 { report.problems.append(String(String(buffer: answer).prefix(500))) }
            } else if let counts = try? JSONDecoder().decode(BatchCounts.self, from: Data(answer.readableBytesView)) {
                report.applied += counts.applied
                report.late += counts.late ?? 0
                report.duplicates += counts.duplicates
                report.rejected += counts.rejected
                if counts.rejected > 0, report.problems.count < 5 { report.problems.append(String(String(buffer: answer).prefix(500))) }
            } else if status == 201 {
                report.applied += 1
            } else if status == 200,
                      (try? JSONDecoder().decode(SingleOutcome.self, from: Data(answer.readableBytesView)))?.outcome == .late {
                report.late += 1
            } else if status == 200 {
                report.duplicates += 1
            } else if status == 400 || status == 422 {
                report.rejected += end - index
                if report.problems.count < 5 { report.problems.append(String(String(buffer: answer).prefix(500))) }
            } else {
                throw ReplayError(seq: first.seq, status: status, body: String(buffer: answer))
            }
            report.requests += 1
            report.messages += end - index
            report.log.requests.append(.init(firstSeq: first.seq, lastSeq: deliveries[end - 1].seq, sentAt: sentAt, answeredAt: answeredAt))
            index = end
            if clock.now - lastProgress >= .seconds(2) {
                lastProgress = clock.now
                let seconds = (clock.now - started).seconds
                progress(String(format: "%d of %d messages, %d events, %.0f events/s", report.messages, deliveries.count,
                                report.events, Double(report.events) / seconds))
            }
        }
        report.seconds = (clock.now - started).seconds
        if durable {
            try await waitForIntake(base: base, http: http, progress: progress)
            report.appliedSeconds = (clock.now - started).seconds
            report.log.appliedAt = Date()
        }
        return report
    }

    /// Waits until the service's feed intake is empty (`GET /ready`, every 100 ms), for at most
    /// `retryFor` (at least a minute) once it stops shrinking.
    func waitForIntake(base: String, http: HTTPClient, progress: @Sendable (String) -> Void) async throws {
        let clock = ContinuousClock()
        let patience = max(retryFor, .seconds(60))
        var lastChange = clock.now
        var last: Int?
        var lastProgress = clock.now
        while true {
            let response = try await http.execute(HTTPClientRequest(url: base + "/ready"), timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1024 * 1024)
            let waiting = (try? JSONDecoder().decode(Readiness.self, from: Data(body.readableBytesView)))?.intakeBacklogEvents
            if waiting == 0 { return }
            if waiting != last { last = waiting; lastChange = clock.now }
            if clock.now - lastChange > patience {
                throw ReplayError(seq: deliveries.last?.seq ?? 0, status: Int(response.status.code),
                                  body: "the service's feed intake still holds \(waiting.map(String.init) ?? "an unknown number of") events")
            }
            if clock.now - lastProgress >= .seconds(2) {
                lastProgress = clock.now
                progress("waiting for the intake: \(waiting.map(String.init) ?? "?") events not applied yet")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Sends one request until it is answered with something other than "later", or `retryFor`
    /// has passed: the status, the body and how many times it was sent again.
    func send(
        _ request: HTTPClientRequest, http: HTTPClient, seq: Int, progress: @Sendable (String) -> Void
    ) async throws -> (status: Int, body: ByteBuffer, retries: Int) {
        let clock = ContinuousClock()
        let giveUpAt = clock.now + retryFor
        var backoff = Duration.milliseconds(250)
        var retries = 0
        while true {
            let wait: Duration
            let why: String
            do {
                let response = try await http.execute(request, timeout: .seconds(300))
                let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
                let status = Int(response.status.code)
                guard [429, 502, 503, 504].contains(status) else { return (status, body, retries) }
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds(min(max($0, 0), 60)) }
                wait = retryAfter ?? backoff
                why = "the service answered \(status)"
                if clock.now + wait > giveUpAt { return (status, body, retries) }
            } catch let error where !(error is CancellationError) {
                // No answer: the service restarting, a connection reset, a time-out.
                wait = backoff
                why = "no answer (\(error))"
                if clock.now + wait > giveUpAt { throw error }
            }
            retries += 1
            if retries == 1 || retries % 10 == 0 {
                progress("message \(seq): \(why); sending again in \(String(format: "%.2f", wait.seconds)) s (attempt \(retries + 1))")
            }
            try await Task.sleep(for: wait)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// JSON texts (objects, or arrays of them) as one array.
    static func jsonArray(_ bodies: [String]) -> String {
        let items = bodies.map { body -> Substring in
            let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.hasPrefix("[") ? trimmed.dropFirst().dropLast() : Substring(trimmed)
        }
        return "[" + items.filter { !$0.isEmpty }.joined(separator: ",") + "]"
    }
}

/// The service refused a request for a reason other than the messages (a key, a fault).
struct ReplayError: Error, CustomStringConvertible {
    let seq: Int
    let status: Int
    let body: String
    var description: String { "message \(seq): the service answered \(status): \(body)" }
}
