import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OMSDomain
import OMSFeeds
import OMSStore

/// `POST` routes of the feeds (`/api/v1/scada/events`, `/api/v1/onu/events`, …): one
/// message, an array of them, or NDJSON, through the feed's SQL function.
///
/// One message: 201 with its summary and `"outcome": "applied"`; 200 with `"outcome": "duplicate"` when it
/// was a repeat, or `"outcome": "late"` (and a `detail`) when it was stored but every status change it meant
/// was older than the meters' newer state (audited, not applied); 400 `application/problem+json` naming the
/// field. A batch: 200 with one outcome per item (applied, late, duplicate or rejected; bad items refused one by
/// one, the good ones applied), 400 when none was good.
///
/// With `grouped` (the KAIFA and ONU feeds, unless `ServerSettings.meterFeedApplication` is `direct`),
/// a synchronous request is applied through the feed intake: its messages are one row marked for an
/// answer, the correlators apply it with whatever else waits there (so a storm's KAIFA and ONU
/// requests about one area are correlated in one call), and the request is answered from the results
/// they keep (the same as the batch function's). Not applied within `grouped.limit`: 503, the row
/// still to be applied. With `grouped.adaptive` (the default), a request that finds this instance
/// with nothing else in hand (`IntakeWakeUp.claimDirect`) is applied in the request, as `direct`.
struct FeedController<Event: Sendable, Summary: FeedSummary & Encodable>: Sendable {
    let feed: Feed<Event, Summary>
    let ingestor: FeedIngestor<Event, Summary>
    let path: RouterPath
    /// How large a body may be and how long it may take to arrive.
    let bodyLimits: BodyLimits
    /// The scope a key needs to post here.
    let scope: APIScope
    let keys: KeyCheck
    let metrics: ServiceMetrics
    /// Woken when a request is kept in the feed intake (this instance's correlators apply it).
    let intakeWakeUp: IntakeWakeUp
    /// Synchronous requests applied through the intake: how they learn their row was applied, and how
    /// long they wait. nil: each is one call of the feed's batch function.
    var grouped: GroupedApplication?

    /// One item of a batch response.
    struct ItemOutcome: Encodable {
        var index: Int
        var outcome: FeedOutcome
        var summary: Summary?
        var error: ProblemDetails.FieldError?

        /// Item `index`, refused by its decoder with `error`.
        static func rejected(_ index: Int, _ error: FeedDecodingError) -> ItemOutcome {
            ItemOutcome(
                index: index, outcome: .rejected, error: .init(index: error.index ?? index, field: error.field, reason: error.reason))
        }
    }

    /// The feed's name in the metrics and the log (`kaifa` for `ingest:kaifa`).
    var feedLabel: String { String(scope.rawValue.dropFirst("ingest:".count)) }

    /// A batch response. `applied` does not count the late messages: `late` does.
    struct BatchResult: Encodable {
        var applied: Int
        var late: Int
        var duplicates: Int
        var rejected: Int
        var results: [ItemOutcome]
    }

    /// A one-message response: the summary with its outcome (and, for a late message, what that means).
    struct SingleResult: Encodable {
        var summary: Summary
        var outcome: FeedOutcome
        var detail: String?

        enum CodingKeys: String, CodingKey { case outcome, detail }

        func encode(to encoder: any Encoder) throws {
            try summary.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(outcome, forKey: .outcome)
            try container.encodeIfPresent(detail, forKey: .detail)
        }
    }

    /// The answer to a request kept in the feed intake (`Prefer: respond-async`): 202, each
    /// message accepted (durable, applied behind the answer) or refused by its decoder.
    struct QueuedResult: Encodable {
        var outcome = FeedOutcome.accepted
        /// The request's row in the intake (gone from `oms_feed_intake` once applied).
        var intakeID: Int64
        var receivedAt: String
        var accepted: Int
        var rejected: Int
        /// A batch's refused items (one message: none, or the answer is 400).
        var results: [ItemOutcome]

        enum CodingKeys: String, CodingKey {
            case outcome, accepted, rejected, results
            case intakeID = "intake_id", receivedAt = "received_at"
        }
    }

    /// Whether the request asks to be answered before its messages are applied: RFC 7240's
    /// `Prefer: respond-async` (one preference among others, parameters ignored).
    static func prefersAsync(_ request: Request) -> Bool {
        let preferences = request.headers[values: .prefer].flatMap { $0.split(separator: ",") }
        return preferences.contains { preference in
            let token = preference.prefix { $0 != ";" && $0 != "=" }
            return token.trimmingCharacters(in: .whitespaces).lowercased() == "respond-async"
        }
    }

    /// What a late message's answer says.
    static var lateDetail: String {
        "stored, but no status was changed: each status change was older than the meter's newer state "
            + "(recorded in the audit trail with applied = false)"
    }

    func addRoutes(to group: RouterGroup<some RequestContext>) {
        group.group().add(middleware: RequireScope(scope: scope, keys: keys)).post(path) { request, context in
            try await create(request: request, context: context)
        }
    }

    func create(request: Request, context: some RequestContext) async throws -> Response {
        let async = Self.prefersAsync(request)
        // On its way into the intake from here (its body still arriving) until appended: the
        // correlators let it land before they take rows (IntakeCorrelator.settleLimit at most,
        // however slow its body).
        let arrival = async || grouped != nil ? intakeWakeUp.arrival() : nil
        defer { arrival?.end() }
        // (A synchronous one is in hand until answered: two at once, and the instance is under load.)
        let inHand = !async && grouped?.adaptive == true ? intakeWakeUp.requestInHand() : nil
        defer { inHand?.end() }
        let body = Array(try await request.collectBody(bodyLimits).readableBytesView)
        if async {
            return try await enqueue(body: body, context: context, arrival: arrival)
        }
        let started = ContinuousClock.now
        let items = feed.decodeBatch(body)
        // Adaptive and alone in this instance: applied in the request (its arrival ended), as `direct`.
        let direct = grouped?.adaptive == true ? arrival.flatMap(intakeWakeUp.claimDirect) : nil
        defer { direct?.end() }
        if grouped != nil { metrics.recordSynchronousPath(feedLabel, direct: direct != nil) }
        let outcomes: [IngestOutcome<Summary>]
        if let grouped, direct == nil {
            outcomes = try await applyGrouped(items, grouped, arrival: arrival)
        } else {
            // A stalled database answers 503 within the gate's watch, not when it wakes up: the batch
            // may still be stored in the background, and its repeat is then answered as one.
            let ingestor = self.ingestor
            outcomes = try await keys.guardedInBackground { try await ingestor.ingest(items) }
        }
        var counts = (applied: 0, late: 0, duplicates: 0, rejected: 0)
        for outcome in outcomes {
            switch outcome {
            case .applied: if outcome.isLate { counts.late += 1 } else { counts.applied += 1 }
            case .duplicate: counts.duplicates += 1
            case .rejected: counts.rejected += 1
            }
        }
        metrics.recordFeed(
            feedLabel, applied: counts.applied, late: counts.late,
            duplicates: counts.duplicates, rejected: counts.rejected, duration: ContinuousClock.now - started)
        // The write's audit line (the request's logger carries the API key and the request id). At
        // info: a storm posts thousands a second; the admin writes are logged at notice.
        context.logger.info("feed messages received", metadata: [
            "feed": "\(feedLabel)", "bytes": "\(body.count)", "applied": "\(counts.applied)",
            "late": "\(counts.late)", "duplicates": "\(counts.duplicates)", "rejected": "\(counts.rejected)",
        ])

        guard feed.isBatch(body, items.count) else {
            switch outcomes.first {
            case .applied(let summary)? where summary.isLate:
                return try JSONResponse.make(SingleResult(summary: summary, outcome: .late, detail: Self.lateDetail), status: .ok)
            case .applied(let summary)?:
                return try JSONResponse.make(SingleResult(summary: summary, outcome: .applied), status: .created)
            case .duplicate(let summary)?:
                return try JSONResponse.make(SingleResult(summary: summary, outcome: .duplicate), status: .ok)
            case .rejected(let error)?: return try ProblemDetails.invalidInput([error], what: feed.messageName).response()
            case nil: return try ProblemDetails.invalidInput([], what: feed.messageName).response()
            }
        }
        var result = BatchResult(applied: 0, late: 0, duplicates: 0, rejected: 0, results: [])
        var errors: [FeedDecodingError] = []
        for (index, outcome) in outcomes.enumerated() {
            switch outcome {
            case .applied(let summary) where summary.isLate:
                result.late += 1
                result.results.append(ItemOutcome(index: index, outcome: .late, summary: summary))
            case .applied(let summary):
                result.applied += 1
                result.results.append(ItemOutcome(index: index, outcome: .applied, summary: summary))
            case .duplicate(let summary):
                result.duplicates += 1
                result.results.append(ItemOutcome(index: index, outcome: .duplicate, summary: summary))
            case .rejected(let error):
                result.rejected += 1
                errors.append(error)
                result.results.append(.rejected(index, error))
            }
        }
        if result.rejected == outcomes.count {
            return try ProblemDetails.invalidInput(errors, what: feed.messageName + "s").response()
        }
        return try JSONResponse.make(result, status: .ok)
    }

    /// A synchronous request through the intake: its decoded messages kept as one row marked for an
    /// answer, the correlators woken, and the results they keep taken once the row is applied (looked
    /// at when this instance's correlators announce it, or every `poll`). Each step goes through the
    /// database gate, like a direct call. Nothing decoded: no row, the decoder's refusals answered.
    func applyGrouped(
        _ items: [Result<Event, FeedDecodingError>], _ grouped: GroupedApplication, arrival: IntakeWakeUp.Arrival?
    ) async throws -> [IngestOutcome<Summary>] {
        let ingestor = self.ingestor
        let queued = try await keys.guardedInBackground { try await ingestor.enqueue(items, answer: true) }
        arrival?.end()
        guard let id = queued.appended?.id else { return try await ingestor.ingest(items) }
        grouped.applications.expect(id)
        defer { grouped.applications.forget(id) }
        intakeWakeUp.wake()
        let deadline = ContinuousClock.now + grouped.limit
        // (Not looked at before a first wait: just appended, it cannot have been applied yet, and
        // this instance's correlators announce it the moment they have.)
        await grouped.applications.wait(for: id, upTo: min(grouped.poll, grouped.limit))
        while true {
            switch try await keys.guardedInBackground({ try await ingestor.intake.takeAnswer(id) }) {
            case .results(let json):
                return try ingestor.outcomes(of: items, answer: json)
            case .gone:
                throw HTTPError(
                    .internalServerError,
                    message: "the messages were applied (feed intake row \(id)), but their results were lost; "
                        + "sending them again answers each as a duplicate, with its result")
            case .waiting:
                let now = ContinuousClock.now
                guard now < deadline else {
                    throw HTTPError(
                        .serviceUnavailable, headers: [.retryAfter: "5"],
                        message: "the messages are kept in the feed intake (row \(id)) but were not applied within "
                            + "\(String(format: "%g", grouped.limit.seconds)) s: others wait before them; they will be applied, and sending them "
                            + "again answers each as a duplicate, with its result")
                }
                try Task.checkCancellation()
                await grouped.applications.wait(for: id, upTo: min(grouped.poll, deadline - now))
            }
        }
    }

    /// `Prefer: respond-async`: the decoded messages kept in the feed intake (one committed row)
    /// and answered 202 at once; the service's correlators apply them behind the answer. Items
    /// their decoder refuses are answered as in a synchronous request (all refused: 400).
    func enqueue(body: [UInt8], context: some RequestContext, arrival: IntakeWakeUp.Arrival?) async throws -> Response {
        let started = ContinuousClock.now
        let items = feed.decodeBatch(body)
        let ingestor = self.ingestor
        let queued = try await keys.guardedInBackground { try await ingestor.enqueue(items) }
        arrival?.end()
        if queued.appended != nil { intakeWakeUp.wake() }
        metrics.recordFeedAccepted(
            feedLabel, accepted: queued.accepted, rejected: queued.rejected.count, duration: ContinuousClock.now - started)
        context.logger.info("feed messages accepted", metadata: [
            "feed": "\(feedLabel)", "bytes": "\(body.count)", "accepted": "\(queued.accepted)",
            "rejected": "\(queued.rejected.count)", "intake_id": "\(queued.appended.map { "\($0.id)" } ?? "none")",
        ])
        guard let appended = queued.appended else {
            return try ProblemDetails.invalidInput(
                queued.rejected.map(\.1), what: feed.isBatch(body, items.count) ? feed.messageName + "s" : feed.messageName
            ).response()
        }
        let result = QueuedResult(
            intakeID: appended.id, receivedAt: ISO8601Time.text(appended.receivedAt), accepted: queued.accepted,
            rejected: queued.rejected.count,
            results: queued.rejected.map(ItemOutcome.rejected))
        var response = try JSONResponse.make(result, status: .accepted)
        response.headers[.preferenceApplied] = "respond-async"
        return response
    }
}

/// How a synchronous feed request applied through the intake (`FeedController.grouped`) waits for its row.
struct GroupedApplication: Sendable {
    /// Announces the rows this instance's correlators applied.
    let applications: IntakeApplications
    /// The longest wait for the row to be applied.
    let limit: Duration
    /// A request alone in this instance is applied in the request instead
    /// (`ServerSettings.MeterFeedApplication.adaptive`, `IntakeWakeUp.claimDirect`).
    var adaptive = false
    /// How often the row is looked at when no announcement comes (another instance applied it).
    var poll: Duration = .milliseconds(250)
}

extension HTTPField.Name {
    /// RFC 7240's request preferences.
    static var prefer: Self { .init("Prefer")! }
    /// The preferences a response honoured (RFC 7240).
    static var preferenceApplied: Self { .init("Preference-Applied")! }
}
