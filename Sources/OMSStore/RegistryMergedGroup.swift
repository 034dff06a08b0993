import Foundation

/// Records that the migration made one meter, and the meter that survived.
public struct RegistryMergedGroup: Codable, Sendable, Equatable {
    /// The group's number in the run (by surviving meter number).
    public var groupNumber: Int
    /// The surviving meter (nil in a dry run for a meter that would be inserted).
    public var meterID: UUID?
    public var meterNumber: String
    /// inserted, updated or unchanged.
    public var action: String
    /// The surviving meter's identities after the run.
    public var survivor: RegistryIdentity
    public var members: [RegistryIdentity]
    /// Other registry meters of the group, left in place ("duplicates left").
    public var duplicateMeterIDs: [UUID]

    enum CodingKeys: String, CodingKey {
        case groupNumber = "group_no", meterID = "meter_id", meterNumber = "meter_number", action, survivor, members
        case duplicateMeterIDs = "duplicate_meter_ids"
    }
}
