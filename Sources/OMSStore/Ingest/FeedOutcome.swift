/// What became of one feed message, as the API, the metrics and the commands name it.
public enum FeedOutcome: String, Codable, Sendable, CaseIterable {
    /// Stored and processed now.
    case applied
    /// Stored, but no status change applied: each was older than the meter's newer state.
    case late
    /// Delivered before: nothing changed.
    case duplicate
    /// Refused: nothing of it was written.
    case rejected
    /// Kept in the feed intake (durable), to be applied behind the answer (`FeedIntake`).
    case accepted
}

extension IngestOutcome where Summary: FeedSummary {
    /// The outcome's name.
    public var kind: FeedOutcome {
        switch self {
        case .applied(let summary): summary.isLate ? .late : .applied
        case .duplicate: .duplicate
        case .rejected: .rejected
        }
    }
}
