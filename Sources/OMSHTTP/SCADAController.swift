import Hummingbird
import OMSFeeds
import OMSStore

/// `POST /api/v1/scada/events`: one SCADA event, an array of them, or NDJSON,
/// through `insert_scada_event_with_meter_check`.
///
/// One event: 201 with the check's summary (200 when it was a repeat), or 400
/// `application/problem+json` naming the field. A batch: 200 with one outcome per
/// item (bad items refused one by one, the good ones applied), 400 when none was good.
struct SCADAController: Sendable {
    let ingestor: SCADAIngestor
    let maximumBodySize: Int

    /// One item of a batch response.
    struct ItemOutcome: Encodable {
        var index: Int
        /// "applied", "duplicate" or "rejected".
        var outcome: String
        var summary: SCADACheckSummary?
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
        group.post("scada/events") { request, context in
            try await create(request: request, context: context)
        }
    }

    func create(request: Request, context: some RequestContext) async throws -> Response {
        let body = Array(try await request.body.collect(upTo: maximumBodySize).readableBytesView)
        let items = SCADADecoder.decodeBatch(body)
        let outcomes = try await ingestor.ingest(items)

        guard FeedBatch.isBatch(body) else {
            switch outcomes.first {
            case .applied(let summary)?: return try JSONResponse.make(summary, status: .created)
            case .duplicate(let summary)?: return try JSONResponse.make(summary, status: .ok)
            case .rejected(let error)?: return try ProblemDetails.invalidInput([error], what: "SCADA event").response()
            case nil: return try ProblemDetails.invalidInput([], what: "SCADA event").response()
            }
        }
        var result = BatchResult(applied: 0, duplicates: 0, rejected: 0, results: [])
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
                result.results.append(ItemOutcome(
                    index: index, outcome: "rejected",
                    error: .init(index: error.index ?? index, field: error.field, reason: error.reason)))
            }
        }
        if result.rejected == outcomes.count {
            let errors = outcomes.compactMap { outcome -> FeedDecodingError? in
                if case .rejected(let error) = outcome { return error }
                return nil
            }
            return try ProblemDetails.invalidInput(errors, what: "SCADA events").response()
        }
        return try JSONResponse.make(result, status: .ok)
    }
}
