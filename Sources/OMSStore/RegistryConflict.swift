import Foundation

/// A fact the records of one meter disagree on: never filled or overwritten.
public struct RegistryConflict: Codable, Sendable, Equatable {
    /// One of the differing values and the sources that gave it.
    public struct Candidate: Codable, Sendable, Equatable {
        public var value: String
        public var sources: [String]

        public init(value: String, sources: [String]) {
            self.value = value
            self.sources = sources
        }
    }

    public var groupNumber: Int
    public var meterID: UUID?
    public var meterNumber: String
    /// meter_number, onu_id, onu_serial_no, asset_mrid, usage_point_mrid, customer_id or location.
    public var field: String
    /// The meter's value after the run (nil: left empty).
    public var keptValue: String?
    public var values: [Candidate]

    enum CodingKeys: String, CodingKey {
        case groupNumber = "group_no", meterID = "meter_id", meterNumber = "meter_number", field
        case keptValue = "kept_value", values
    }
}
