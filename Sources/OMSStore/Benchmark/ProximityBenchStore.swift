import Logging
import PostgresNIO

/// The statements `oms bench proximity` times on the benchmark registry: `oms_meters_within` (the
/// indexed search), a primary-key lookup of one meter (a baseline) and the same search by a scan of
/// every meter (the prototype's way, for reference); and the plans the server makes of the search.
public struct ProximityBenchStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The locations of the given meters, by meter number (meters without one, or unknown, are absent).
    public func locations(of meterNumbers: [String]) async throws -> [String: (latitude: Double, longitude: Double)] {
        var found: [String: (latitude: Double, longitude: Double)] = [:]
        let rows = try await client.read(
            "SELECT meter_number, location_lat, location_lng FROM oms_meters WHERE meter_number = ANY(\(meterNumbers))", logger: logger)
        for (number, latitude, longitude) in try rows.decode((String, Double, Double).self) {
            found[number] = (latitude, longitude)
        }
        return found
    }

    /// `SELECT * FROM oms_meters WHERE meter_number = …`, every row read; returns how many there were.
    @discardableResult
    public func meterByNumber(_ meterNumber: String) async throws -> Int {
        try await client.read("SELECT * FROM oms_meters WHERE meter_number = \(meterNumber)", logger: logger).rows.count
    }

    /// `SELECT * FROM oms_meters_within(lat, lng, radius)`, every row read; returns how many there were.
    @discardableResult
    public func metersWithin(latitude: Double, longitude: Double, radius: Double) async throws -> Int {
        try await client.read("SELECT * FROM oms_meters_within(\(latitude), \(longitude), \(radius))", logger: logger).rows.count
    }

    /// `SELECT * FROM oms_meters_nearest(lat, lng, radius, count)`, every row read; returns how many there were.
    @discardableResult
    public func metersNearest(latitude: Double, longitude: Double, radius: Double, count: Int) async throws -> Int {
        try await client.read(
            "SELECT * FROM oms_meters_nearest(\(latitude), \(longitude), \(radius), \(count))", logger: logger).rows.count
    }

    /// The same search by a scan of every active meter (no index), every row read; returns how many there were.
    @discardableResult
    public func metersWithinByFullScan(latitude: Double, longitude: Double, radius: Double) async throws -> Int {
        try await client.read(
            """
            SELECT id, meter_number, oms_earth_distance_km(\(latitude), \(longitude), location_lat, location_lng) AS distance_km
              FROM oms_meters
             WHERE status = 'active'
               AND oms_earth_distance_km(\(latitude), \(longitude), location_lat, location_lng) <= \(radius)
             ORDER BY distance_km
            """, logger: logger).rows.count
    }

    /// The lines of `EXPLAIN (ANALYZE, TIMING OFF, SUMMARY)` of one search: the plan run, with
    /// "Planning Time: … ms" and "Execution Time: … ms".
    public func explainAnalyzeMetersWithin(latitude: Double, longitude: Double, radius: Double) async throws -> [String] {
        try await client.read(
            "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY) SELECT * FROM oms_meters_within(\(latitude), \(longitude), \(radius))",
            logger: logger).decode(String.self)
    }

    /// The lines of `EXPLAIN (COSTS OFF)` of one search: the plan, outermost node first.
    public func explainMetersWithin(latitude: Double, longitude: Double, radius: Double) async throws -> [String] {
        try await client.read(
            "EXPLAIN (COSTS OFF) SELECT * FROM oms_meters_within(\(latitude), \(longitude), \(radius))", logger: logger)
            .decode(String.self)
    }
}
