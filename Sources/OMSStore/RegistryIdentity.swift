import Foundation

/// One record of a merged group, or the surviving meter, as `oms_migrate_registry()` reports it:
/// where it came from and the identities it carries (absent ones are nil).
public struct RegistryIdentity: Codable, Sendable, Equatable {
    /// registry, kaifa, call_center, onu, or the `source` of an `oms_registry_sources` row.
    public var source: String
    /// The registry meter, for records that are registry rows.
    public var meterID: UUID?
    public var meterNumber: String?
    public var onuID: String?
    public var onuSerial: String?
    public var assetMRID: String?
    public var usagePointMRID: String?
    /// The customer's business id (`oms_customers.customer_id`).
    public var customerID: String?
    public var locationLat: Double?
    public var locationLng: Double?
    /// How many source rows carried exactly these identities (nil for the survivor).
    public var rows: Int?

    enum CodingKeys: String, CodingKey {
        case source, meterID = "meter_id", meterNumber = "meter_number", onuID = "onu_id", onuSerial = "onu_serial"
        case assetMRID = "asset_mrid", usagePointMRID = "usage_point_mrid", customerID = "customer_id"
        case locationLat = "location_lat", locationLng = "location_lng", rows
    }
}
