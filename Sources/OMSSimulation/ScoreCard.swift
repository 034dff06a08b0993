import Foundation

/// An outage as the service recorded it, what `oms score` reads from the database.
public struct FoundOutage: Codable, Sendable, Equatable {
    public var eventID: String
    public var status: String
    public var substationID: String?
    public var feederID: String?
    public var dpID: String?
    /// The time of the event that opened it (the feeds' clock).
    public var firstDetectedAt: Date
    /// When the service recorded it (the database's clock).
    public var createdAt: Date
    public var restoredAt: Date?
    /// The service's verdict: restored within the momentary threshold.
    public var momentary: Bool
    /// The meters it covers, and their customers.
    public var meters: [String]
    public var customers: [String]

    public init(
        eventID: String, status: String, substationID: String?, feederID: String?, dpID: String?, firstDetectedAt: Date,
        createdAt: Date, restoredAt: Date?, momentary: Bool = false, meters: [String], customers: [String]
    ) {
        self.eventID = eventID
        self.status = status
        self.substationID = substationID
        self.feederID = feederID
        self.dpID = dpID
        self.firstDetectedAt = firstDetectedAt
        self.createdAt = createdAt
        self.restoredAt = restoredAt
        self.momentary = momentary
        self.meters = meters
        self.customers = customers
    }

    /// The device it names: its distribution point, else feeder, else substation.
    public var device: (kind: DeviceKind, id: String)? {
        if let dpID { return (.dp, dpID) }
        if let feederID { return (.feeder, feederID) }
        if let substationID { return (.substation, substationID) }
        return nil
    }
}

/// When `oms replay` sent each request and when the service answered it (the wall clock):
/// what turns "the first message of a failure" into a detection latency.
public struct DeliveryLog: Codable, Sendable, Equatable {
    /// One request: the messages `firstSeq...lastSeq`.
    public struct Request: Codable, Sendable, Equatable {
        public var firstSeq: Int
        public var lastSeq: Int
        public var sentAt: Date
        public var answeredAt: Date

        public init(firstSeq: Int, lastSeq: Int, sentAt: Date, answeredAt: Date) {
            self.firstSeq = firstSeq
            self.lastSeq = lastSeq
            self.sentAt = sentAt
            self.answeredAt = answeredAt
        }
    }

    /// nil: as fast as possible; else the scenario's clock over the wall clock.
    public var speed: Double?
    public var requests: [Request]
    /// Requests answered before they were applied (the feed intake): when the replay saw every
    /// message applied (the intake empty); nil otherwise.
    public var appliedAt: Date?

    public init(speed: Double?, requests: [Request]) {
        self.speed = speed
        self.requests = requests
    }

    /// The request that carried message `seq`.
    func request(carrying seq: Int) -> Request? {
        var low = 0, high = requests.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if requests[middle].lastSeq < seq { low = middle + 1 } else if requests[middle].firstSeq > seq { high = middle - 1 } else { return requests[middle] }
        }
        return nil
    }

    /// When what the service did at `time` was answered: the end of the request running then
    /// (or of the first one answered after it); after the last answer, when every message was seen
    /// applied (requests answered before they were applied).
    func answered(after time: Date) -> Date? {
        requests.first { $0.answeredAt >= time }?.answeredAt ?? appliedAt.flatMap { $0 >= time ? $0 : nil }
    }
}

/// How well the service's outages match the ground truth.
///
/// - A failure is **found** by an outage (not cancelled) naming its device (the outage's DP,
///   else feeder, else substation) first detected between a minute before the failure and a
///   minute after its restoration; the earliest such outage. Precision = found / outages,
///   recall = found / failures, F1 their harmonic mean.
/// - Every other outage is **false**, by reason: a *duplicate* of a found one (same device and
///   time); *below* a failed device (a DP or feeder outage under a failed feeder or substation:
///   not rolled up); *above* one (a feeder or substation outage over a failed DP or feeder);
///   *communication loss alone* (every meter it covers only went silent); *other*.
/// - **Customers**: per failure, the distinct customers of its outage, duplicates and the
///   outages below it, against the customers that lost power.
/// - **Detection delay**: the found outage's first detection against the failure (the feeds'
///   clock). **Detection latency** (with a delivery log): from sending the failure's first
///   message to the answer of the request during which its outage was recorded (the wall clock).
public struct ScoreCard: Codable, Sendable, Equatable {
    /// A failure and what the service made of it.
    public struct FailureResult: Codable, Sendable, Equatable {
        public var id: String
        public var device: DeviceKind
        public var deviceID: String
        public var momentary: Bool
        public var customers: Int
        /// The outage that found it, if one did.
        public var outage: String?
        public var status: String?
        /// Whether its outage was flagged momentary.
        public var flaggedMomentary: Bool?
        /// Customers of its outage, duplicates and outages below it.
        public var customersFound: Int
        /// Outages below it (not rolled up to the failed device).
        public var outagesBelow: Int
        public var detectionDelaySeconds: Double?
        public var detectionLatencySeconds: Double?
        public var restorationErrorSeconds: Double?
    }

    /// Why an outage counts as false.
    public enum FalseReason: String, Codable, CodingKeyRepresentable, Sendable, CaseIterable {
        case duplicate, below, above
        case communicationLoss = "communication_loss"
        case other
    }

    /// Percentiles of a list of numbers.
    public struct Spread: Codable, Sendable, Equatable {
        public var count: Int
        public var p50: Double
        public var p99: Double
        public var max: Double

        init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            (count, p50, p99, max) = (sorted.count, Self.percentile(50, ofSorted: sorted), Self.percentile(99, ofSorted: sorted), sorted.last!)
        }

        /// The p-th percentile (0...100) of sorted values, nearest-rank; nan when there are none.
        public static func percentile(_ p: Double, ofSorted sorted: [Double]) -> Double {
            guard !sorted.isEmpty else { return .nan }
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.min(Swift.max(rank, 0), sorted.count - 1)]
        }
    }

    public var failures: Int
    public var outages: Int
    public var found: Int
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var falseOutages: [FalseReason: Int]
    public var customersAffected: Int
    public var customersFound: Int
    /// (found − affected) / affected over all failures.
    public var customerError: Double
    /// Mean of |found − affected| / affected per failure.
    public var meanCustomerErrorPerFailure: Double
    /// Customers in outages that match no failure (false ones).
    public var customersInFalseOutages: Int
    public var detectionDelaySeconds: Spread?
    public var detectionLatencySeconds: Spread?
    /// The replay's speed (nil: as fast as possible), from the delivery log.
    public var replaySpeed: Double?
    public var restoredOutages: Int
    public var restorationErrorSeconds: Spread?
    /// Momentary failures, and those whose outage was found and flagged momentary.
    public var momentaryFailures: Int
    public var momentaryFlagged: Int
    /// Sustained failures whose outage was flagged momentary (wrongly).
    public var sustainedFlaggedMomentary: Int
    public var results: [FailureResult]

    /// A minute's grace either side of a failure.
    static let slack: TimeInterval = 60

    public static func compute(truth: GroundTruth, outages allOutages: [FoundOutage], delivery: DeliveryLog? = nil) -> ScoreCard {
        let outages = allOutages.filter { $0.status != "cancelled" }.sorted {
            ($0.firstDetectedAt, $0.eventID) < ($1.firstDetectedAt, $1.eventID)
        }
        func during(_ outage: FoundOutage, _ failure: GroundTruth.Failure) -> Bool {
            outage.firstDetectedAt >= failure.failedAt.addingTimeInterval(-slack)
                && outage.firstDetectedAt <= failure.restoredAt.addingTimeInterval(slack)
        }
        func names(_ outage: FoundOutage, _ failure: GroundTruth.Failure) -> Bool {
            outage.device.map { $0.kind == failure.device && $0.id == failure.deviceID } ?? false
        }
        /// The outage lies under the failed device (a lower device, same branch).
        func below(_ outage: FoundOutage, _ failure: GroundTruth.Failure) -> Bool {
            guard let device = outage.device, device.kind < failure.device else { return false }
            switch failure.device {
            case .substation: return outage.substationID == failure.deviceID
            case .feeder: return outage.feederID == failure.deviceID
            case .dp: return false
            }
        }
        /// The failed device lies under the outage's device.
        func above(_ outage: FoundOutage, _ failure: GroundTruth.Failure) -> Bool {
            guard let device = outage.device, failure.device < device.kind else { return false }
            switch device.kind {
            case .substation: return failure.substationID == device.id
            case .feeder: return failure.feederID == device.id
            case .dp: return false
            }
        }

        var matched: [String: Int] = [:]  // outage event id -> failure index
        var foundBy: [Int: FoundOutage] = [:]
        for (index, failure) in truth.failures.enumerated() {
            if let outage = outages.first(where: { matched[$0.eventID] == nil && names($0, failure) && during($0, failure) }) {
                matched[outage.eventID] = index
                foundBy[index] = outage
            }
        }
        let silent = Set(truth.commNoise.map(\.meter))
        let powerless = Set(truth.failures.flatMap(\.meters))
        var falseOutages = Dictionary(uniqueKeysWithValues: FalseReason.allCases.map { ($0, 0) })
        var attributed: [Int: [FoundOutage]] = [:]
        var falseCustomers = Set<String>()
        for outage in outages where matched[outage.eventID] == nil {
            let reason: FalseReason
            if let index = truth.failures.indices.first(where: { names(outage, truth.failures[$0]) && during(outage, truth.failures[$0]) }) {
                reason = .duplicate
                attributed[index, default: []].append(outage)
            } else if let index = truth.failures.indices.first(where: { below(outage, truth.failures[$0]) && during(outage, truth.failures[$0]) }) {
                reason = .below
                attributed[index, default: []].append(outage)
            } else if truth.failures.contains(where: { above(outage, $0) && during(outage, $0) }) {
                reason = .above
                falseCustomers.formUnion(outage.customers)
            } else if !outage.meters.isEmpty, outage.meters.allSatisfy({ silent.contains($0) && !powerless.contains($0) }) {
                reason = .communicationLoss
                falseCustomers.formUnion(outage.customers)
            } else {
                reason = .other
                falseCustomers.formUnion(outage.customers)
            }
            falseOutages[reason, default: 0] += 1
        }

        var results: [FailureResult] = []
        var delays: [Double] = [], latencies: [Double] = [], restorationErrors: [Double] = []
        var affectedTotal = 0, foundTotal = 0, relativeErrors: [Double] = []
        for (index, failure) in truth.failures.enumerated() {
            let outage = foundBy[index]
            let related = (outage.map { [$0] } ?? []) + (attributed[index] ?? [])
            let customersFound = Set(related.flatMap(\.customers)).count
            let affected = Set(failure.customers).count
            affectedTotal += affected
            foundTotal += customersFound
            if affected > 0 { relativeErrors.append(abs(Double(customersFound - affected)) / Double(affected)) }
            var result = FailureResult(
                id: failure.id, device: failure.device, deviceID: failure.deviceID, momentary: failure.isMomentary,
                customers: affected, outage: outage?.eventID, status: outage?.status, customersFound: customersFound,
                outagesBelow: (attributed[index] ?? []).filter { below($0, failure) }.count)
            result.flaggedMomentary = outage.map(\.momentary)
            if let outage {
                let delay = outage.firstDetectedAt.timeIntervalSince(failure.failedAt)
                result.detectionDelaySeconds = delay
                delays.append(delay)
                if let delivery, let seq = failure.firstEventSeq, let sent = delivery.request(carrying: seq)?.sentAt,
                   let recorded = delivery.answered(after: outage.createdAt) {
                    let latency = Swift.max(recorded.timeIntervalSince(sent), 0)
                    result.detectionLatencySeconds = latency
                    latencies.append(latency)
                }
                if let restoredAt = outage.restoredAt {
                    let error = restoredAt.timeIntervalSince(failure.restoredAt)
                    result.restorationErrorSeconds = error
                    restorationErrors.append(abs(error))
                }
            }
            results.append(result)
        }

        let found = foundBy.count
        let precision = outages.isEmpty ? (truth.failures.isEmpty ? 1 : 0) : Double(found) / Double(outages.count)
        let recall = truth.failures.isEmpty ? 1 : Double(found) / Double(truth.failures.count)
        return ScoreCard(
            failures: truth.failures.count, outages: outages.count, found: found, precision: precision, recall: recall,
            f1: precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall), falseOutages: falseOutages,
            customersAffected: affectedTotal, customersFound: foundTotal,
            customerError: affectedTotal == 0 ? 0 : Double(foundTotal - affectedTotal) / Double(affectedTotal),
            meanCustomerErrorPerFailure: relativeErrors.isEmpty ? 0 : relativeErrors.reduce(0, +) / Double(relativeErrors.count),
            customersInFalseOutages: falseCustomers.count, detectionDelaySeconds: Spread(delays),
            detectionLatencySeconds: Spread(latencies), replaySpeed: delivery?.speed,
            restoredOutages: restorationErrors.count, restorationErrorSeconds: Spread(restorationErrors),
            momentaryFailures: results.filter(\.momentary).count,
            momentaryFlagged: results.filter { $0.momentary && $0.flaggedMomentary == true }.count,
            sustainedFlaggedMomentary: results.filter { !$0.momentary && $0.flaggedMomentary == true }.count,
            results: results)
    }

    /// The report `oms score` prints.
    public func render() -> String {
        func percent(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }
        func seconds(_ spread: Spread?) -> String {
            guard let spread else { return "-" }
            return String(format: "p50 %.1f s, p99 %.1f s, max %.1f s (%d)", spread.p50, spread.p99, spread.max, spread.count)
        }
        var lines: [String] = []
        lines.append("failures \(failures), outages recorded \(outages) (cancelled ones not counted), failures found \(found)")
        lines.append("device level: precision \(percent(precision)), recall \(percent(recall)), F1 \(String(format: "%.3f", f1))")
        lines.append("false outages: " + FalseReason.allCases.map { "\($0.rawValue) \(falseOutages[$0] ?? 0)" }.joined(separator: ", "))
        lines.append("false outages from communication loss alone: \(falseOutages[.communicationLoss] ?? 0)")
        lines.append(String(
            format: "customers affected %d, found %d: error %+.1f%% (mean per failure %.1f%%); customers in false outages %d",
            customersAffected, customersFound, customerError * 100, meanCustomerErrorPerFailure * 100, customersInFalseOutages))
        lines.append("detection delay (feeds' clock, failure to the event that opened the outage): \(seconds(detectionDelaySeconds))")
        let speed = replaySpeed.map { String(format: "replayed at %gx", $0) } ?? "replayed as fast as possible"
        lines.append("detection latency (wall clock, first message sent to outage recorded, \(speed)): \(seconds(detectionLatencySeconds))")
        lines.append("restored outages \(restoredOutages) of \(found) found; restoration time error: \(seconds(restorationErrorSeconds))")
        lines.append("momentary failures \(momentaryFailures), found and flagged momentary \(momentaryFlagged); sustained ones flagged momentary \(sustainedFlaggedMomentary)")
        lines.append("")
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        func right(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        lines.append([pad("failure", 8), pad("device", 11), pad("id", 19), right("customers", 9), right("found", 6),
                      pad("outage", 31), pad("status", 12), right("below", 5), right("delay s", 8)].joined(separator: " "))
        for result in results {
            lines.append([
                pad(result.id, 8), pad(result.device.rawValue + (result.momentary ? "*" : ""), 11), pad(result.deviceID, 19),
                right("\(result.customers)", 9), right("\(result.customersFound)", 6), pad(result.outage ?? "(missed)", 31),
                pad(result.status ?? "-", 12), right("\(result.outagesBelow)", 5),
                right(result.detectionDelaySeconds.map { String(format: "%.1f", $0) } ?? "-", 8),
            ].joined(separator: " "))
        }
        lines.append("(* momentary: restored within 5 minutes)")
        return lines.joined(separator: "\n")
    }
}
