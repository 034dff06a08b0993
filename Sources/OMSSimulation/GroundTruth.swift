import Foundation

/// A device a scenario fails.
public enum DeviceKind: String, Codable, Sendable, CaseIterable, Comparable {
    case dp, feeder, substation

    public static func < (a: DeviceKind, b: DeviceKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One message as a feed delivers it: what `oms replay` posts, in `seq` order. The body is
/// the exact text the feed sends (JSON, or KAIFA's SOAP XML); `deliverAt` is when it arrives,
/// which for a delayed message is later than the times it carries.
public struct Delivery: Codable, Sendable, Equatable {
    public var seq: Int
    public var deliverAt: Date
    public var feed: FeedKind
    /// application/json or application/xml
    public var contentType: String
    public var body: String

    public init(seq: Int, deliverAt: Date, feed: FeedKind, contentType: String, body: String) {
        self.seq = seq
        self.deliverAt = deliverAt
        self.feed = feed
        self.contentType = contentType
        self.body = body
    }
}

/// What really happened in a scenario: which devices failed when, which meters and customers
/// lost power, when each was restored, and which meters only went silent. `oms score`
/// compares the service's outages with it.
public struct GroundTruth: Codable, Sendable, Equatable {
    /// A failed device and everything under it.
    public struct Failure: Codable, Sendable, Equatable {
        /// F01, F02, … in order of failure.
        public var id: String
        public var device: DeviceKind
        /// The device's registry id (a DP, feeder or substation id).
        public var deviceID: String
        public var substationID: String
        public var feederID: String?
        public var failedAt: Date
        /// When power came back to every meter under the device.
        public var restoredAt: Date
        /// The meters without power from `failedAt` to `restoredAt`.
        public var meters: [String]
        /// Their customers.
        public var customers: [String]
        /// The first message that tells of the failure (a breaker trip, a last gasp, a call);
        /// nil when none does (every last gasp lost, nobody called).
        public var firstEventSeq: Int?

        public init(
            id: String, device: DeviceKind, deviceID: String, substationID: String, feederID: String?, failedAt: Date,
            restoredAt: Date, meters: [String], customers: [String], firstEventSeq: Int?
        ) {
            self.id = id
            self.device = device
            self.deviceID = deviceID
            self.substationID = substationID
            self.feederID = feederID
            self.failedAt = failedAt
            self.restoredAt = restoredAt
            self.meters = meters
            self.customers = customers
            self.firstEventSeq = firstEventSeq
        }

        /// Under five minutes: a momentary interruption (IEEE 1366).
        public var isMomentary: Bool { restoredAt.timeIntervalSince(failedAt) < 300 }
    }

    /// A meter whose communication failed while it kept its power.
    public struct CommNoise: Codable, Sendable, Equatable {
        public var meter: String
        public var silentAt: Date
        public var backAt: Date

        public init(meter: String, silentAt: Date, backAt: Date) {
            self.meter = meter
            self.silentAt = silentAt
            self.backAt = backAt
        }
    }

    /// What the stream holds.
    public struct Counts: Codable, Sendable, Equatable {
        public var messages = 0
        /// Feed events (a KAIFA message can carry several).
        public var events = 0
        public var duplicates = 0
        public var delayed = 0
        public var lostLastGasps = 0
        public var calls = 0

        public init() {}
    }

    public var scenario: Scenario.Parameters
    public var network: SimulatedNetwork.Parameters
    public var failures: [Failure]
    public var commNoise: [CommNoise]
    public var counts: Counts

    public init(
        scenario: Scenario.Parameters, network: SimulatedNetwork.Parameters, failures: [Failure], commNoise: [CommNoise],
        counts: Counts = Counts()
    ) {
        self.scenario = scenario
        self.network = network
        self.failures = failures
        self.commNoise = commNoise
        self.counts = counts
    }
}

/// Reads and writes a scenario's files: `events.jsonl` (one delivery per line, in order) and
/// `truth.json`.
public enum ScenarioFiles {
    public static let events = "events.jsonl"
    public static let truth = "truth.json"
    /// What `oms replay` writes next to the events: when each request was sent and answered.
    public static let delivery = "delivery.json"

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(SimulationTime.text(date))
        }
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = SimulationTime.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time: \(text)")
            }
            return date
        }
        return decoder
    }

    /// Writes `events.jsonl` and `truth.json` into `folder` (created if needed); returns their paths.
    @discardableResult
    public static func write(_ scenario: Scenario, to folder: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let encoder = encoder
        var lines = Data()
        for delivery in scenario.deliveries {
            lines.append(try encoder.encode(delivery))
            lines.append(0x0A)
        }
        let eventsPath = (folder as NSString).appendingPathComponent(events)
        try lines.write(to: URL(fileURLWithPath: eventsPath))
        let pretty = self.encoder
        pretty.outputFormatting.insert(.prettyPrinted)
        let truthPath = (folder as NSString).appendingPathComponent(truth)
        try pretty.encode(scenario.truth).write(to: URL(fileURLWithPath: truthPath))
        return [eventsPath, truthPath]
    }

    /// The deliveries of an `events.jsonl`, in order; an error names the line that is wrong.
    public static func readDeliveries(_ path: String) throws -> [Delivery] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = decoder
        var deliveries: [Delivery] = []
        for (index, line) in data.split(separator: 0x0A, omittingEmptySubsequences: true).enumerated() {
            do {
                deliveries.append(try decoder.decode(Delivery.self, from: Data(line)))
            } catch {
                throw ScenarioFileError(path: path, line: index + 1, reason: "\(error)")
            }
        }
        return deliveries
    }

    public static func readTruth(_ path: String) throws -> GroundTruth {
        try read(GroundTruth.self, from: path)
    }

    /// Writes a replay's delivery log.
    public static func write(_ log: DeliveryLog, to path: String) throws {
        let encoder = encoder
        encoder.outputFormatting.insert(.prettyPrinted)
        try encoder.encode(log).write(to: URL(fileURLWithPath: path))
    }

    public static func readDeliveryLog(_ path: String) throws -> DeliveryLog {
        try read(DeliveryLog.self, from: path)
    }

    /// One JSON file of the simulation's; a file that does not decode is an error naming it.
    static func read<Value: Decodable>(_ type: Value.Type, from path: String) throws -> Value {
        do {
            return try decoder.decode(Value.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as DecodingError {
            throw ScenarioFileError(path: path, line: nil, reason: "\(error)")
        }
    }

    /// A path given as a scenario folder or as one of its files: the file `name` in that folder.
    public static func path(_ given: String, file name: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: given, isDirectory: &isDirectory), isDirectory.boolValue {
            return (given as NSString).appendingPathComponent(name)
        }
        return given
    }
}

/// A scenario file that cannot be read.
public struct ScenarioFileError: Error, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var reason: String
    public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(reason)" }
}
