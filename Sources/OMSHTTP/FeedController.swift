import Hummingbird
import OMSDomain
import OMSFeeds
import OMSStore

/// `POST` routes of the feeds (`/api/v1/scada/events`, `/api/v1/onu/events`, …): one
/// message, an array of them, or NDJSON, through the feed's SQL function.
///
/// One message: 201 with its summary (200 when it was a repeat), or 400
/// `application/problem+json` naming the field. A batch: 200 with one outcome per
/// item (bad items refused one by one, the good ones applied), 400 when none was good.
struct FeedController<Event: Sendable, Summary: FeedSummary & Encodable>: Sendable {
    let feed: Feed<Event, Summary>
    let ingestor: FeedIngestor<Event, Summary>
    let path: RouterPath
    let maximumBodySize: Int
    /// The scope a key needs to post here.
    let scope: APIScope
    let keys: KeyCheck
    let metrics: ServiceMetrics

    /// One item of a batch response.
    struct ItemOutcome: Encodable {
        var index: Int
        /// "applied", "duplicate" or "rejected".
        var outcome: String
        var summary: Summary?
        var error: ProblemDetails.FieldError?
    }

    /// A batch response.
    struct BatchResult: Encodable {
        var applied: Int
        var duplicates: Int
        var rejected: Int
        var results: [ItemOutcome]
    }

    func addRoutes(to group: RouterGroup<some RequestContext>) {
        group.group().add(middleware: RequireScope(scope: scope, keys: keys)).post(path) { request, context in
            try await create(request: request, context: context)
        }
    }

    func create(request: Request, context: some RequestContext) async throws -> Response {
        let body = Array(try await request.body.collect(upTo: maximumBodySize).readableBytesView)
        let started = ContinuousClock.now
        let outcomes = try await ingestor.ingest(body: body)
        var counts = (applied: 0, duplicates: 0, rejected: 0)
        for outcome in outcomes {
            switch outcome {
            case .applied: counts.applied += 1
            case .duplicate: counts.duplicates += 1
            case .rejected: counts.rejected += 1
            }
        }
        metrics.recordFeed(
            String(scope.rawValue.dropFirst("ingest:".count)), applied: counts.applied,
            duplicates: counts.duplicates, rejected: counts.rejected, duration: ContinuousClock.now - started)

        guard feed.isBatch(body) else {
            switch outcomes.first {
            case .applied(let summary)?: return try JSONResponse.make(summary, status: .created)
            case .duplicate(let summary)?: return try JSONResponse.make(summary, status: .ok)
            case .rejected(let error)?: return try ProblemDetails.invalidInput([error], what: feed.messageName).response()
            case nil: return try ProblemDetails.invalidInput([], what: feed.messageName).response()
            }
        }
        var result = BatchResult(applied: 0, duplicates: 0, rejected: 0, results: [])
        var errors: [FeedDecodingError] = []
        for (index, outcome) in outcomes.enumerated() {
            switch outcome {
            case .applied(let summary):
                result.applied += 1
                result.results.append(ItemOutcome(index: index, outcome: "applied", summary: summary))
            case .duplicate(let summary):
                result.duplicates += 1
                result.results.append(ItemOutcome(index: index, outcome: "duplicate", summary: summary))
            case .rejected(let error):
                result.rejected += 1
                errors.append(error)
                result.results.append(ItemOutcome(
                    index: index, outcome: "rejected",
                    error: .init(index: error.index ?? index, field: error.field, reason: error.reason)))
            }
        }
        if result.rejected == outcomes.count {
            return try ProblemDetails.invalidInput(errors, what: feed.messageName + "s").response()
        }
        return try JSONResponse.make(result, status: .ok)
    }
}
