import Foundation

/// What `oms_set_meter_power_status` did with a manual status change.
public struct ManualStatusChange: Sendable, Equatable {
    /// The audit row (the first one's, for a repeat).
    public var statusEventID: UUID
    /// The request id was seen before: nothing changed.
    public var duplicate: Bool
    /// false when the change was older than the meter's newer state: audited, not applied.
    public var applied: Bool
    /// When not applied: the time of the meter's newer state.
    public var newerStateAt: Date?
}
