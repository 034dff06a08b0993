import Foundation
import OMSFeeds
import OMSSimulation
import Testing

@Suite("oms simulate scenario")
struct ScenarioTests {
    static let network = SimulatedNetwork(.init(substations: 4, feedersPerSubstation: 5, dpsPerFeeder: 8, meters: 4_000, seed: 11))

    static func scenario(_ kind: Scenario.Kind, seed: UInt64 = 5, _ change: (inout Scenario.Parameters) -> Void = { _ in }) -> Scenario {
        var parameters = Scenario.Parameters.defaults(for: kind, seed: seed)
        change(&parameters)
        return Scenario(network: network, parameters: parameters)
    }

    /// The events a delivery holds, decoded with the service's own decoders.
    static func decoded(_ delivery: Delivery) -> (events: Int, errors: [String]) {
        let body = Array(delivery.body.utf8)
        let results: [Result<Void, FeedDecodingError>] = switch delivery.feed {
        case .scada: SCADADecoder.decodeBatch(body).map { $0.map { _ in } }
        case .onu: ONUDecoder.decodeBatch(body).map { $0.map { _ in } }
        case .kaifa: KAIFADecoder.decodeBatch(body).map { $0.map { _ in } }
        case .callcenter: CallCenterDecoder.decodeBatch(body).map { $0.map { _ in } }
        }
        let errors = results.compactMap { result -> String? in
            if case .failure(let error) = result { return "\(delivery.seq): \(error)" }
            return nil
        }
        return (results.count, errors)
    }

    @Test("the same network, knobs and seed give the same messages and truth; another seed, others")
    func deterministic() throws {
        let a = Self.scenario(.mixed)
        let b = Self.scenario(.mixed)
        let c = Self.scenario(.mixed, seed: 6)
        #expect(a.deliveries == b.deliveries)
        #expect(a.truth == b.truth)
        #expect(a.deliveries != c.deliveries)
        #expect(a.truth.failures.map(\.deviceID) != c.truth.failures.map(\.deviceID))
    }

    @Test("every message decodes with the project's own decoders, in all four feeds and both KAIFA formats")
    func everyMessageDecodes() throws {
        let scenario = Self.scenario(.mixed)
        var events = 0
        var errors: [String] = []
        for delivery in scenario.deliveries {
            let result = Self.decoded(delivery)
            events += result.events
            errors += result.errors
        }
        #expect(errors.isEmpty, "\(errors.prefix(3))")
        #expect(events == scenario.truth.counts.events)
        let kinds = Set(scenario.deliveries.map { "\($0.feed.rawValue) \($0.contentType)" })
        #expect(kinds == [
            "scada application/json", "onu application/json", "kaifa application/json", "kaifa application/xml",
            "callcenter application/json",
        ])
        #expect(scenario.deliveries.contains { $0.feed == .kaifa && KAIFADecoder.isBatch(Array($0.body.utf8)) },
                "the head-end gathers events into one message")
    }

    @Test("the truth: the devices asked for, none under another, their meters, first messages, silent meters apart")
    func truth() throws {
        let scenario = Self.scenario(.mixed)
        let truth = scenario.truth
        let byKind = Dictionary(grouping: truth.failures, by: \.device).mapValues(\.count)
        #expect(byKind == [.dp: 14, .feeder: 5, .substation: 1])
        let meters = truth.failures.flatMap(\.meters)
        #expect(Set(meters).count == meters.count, "no meter is under two failures")
        let premises = Dictionary(uniqueKeysWithValues: Self.network.premises.map { ($0.meterNumber, $0) })
        for failure in truth.failures {
            #expect(!failure.meters.isEmpty)
            #expect(failure.customers.count == failure.meters.count)
            for number in failure.meters {
                let dp = try #require(premises[number]).dp
                switch failure.device {
                case .dp: #expect(dp == failure.deviceID)
                case .feeder: #expect(dp.hasPrefix(failure.deviceID + "-"))
                case .substation: #expect(dp.hasPrefix(failure.deviceID + "-"))
                }
            }
            #expect(failure.restoredAt > failure.failedAt)
            let seq = try #require(failure.firstEventSeq, "\(failure.id) has a first message")
            let first = scenario.deliveries[seq - 1]
            #expect(first.seq == seq)
            #expect(first.deliverAt >= failure.failedAt)
        }
        #expect(truth.failures.contains { $0.isMomentary })
        let silent = truth.commNoise.map(\.meter)
        #expect(silent.count == 80, "2% of 4,000 meters")
        #expect(Set(silent).isDisjoint(with: meters))
        #expect(truth.commNoise.allSatisfy { $0.backAt > $0.silentAt })
    }

    @Test("the feeds' faults: messages in delivery order, some repeated, some late, last gasps lost, loosely typed meter numbers")
    func feedFaults() throws {
        let scenario = Self.scenario(.mixed)
        #expect(scenario.deliveries.map(\.seq) == Array(1...scenario.deliveries.count))
        #expect(zip(scenario.deliveries, scenario.deliveries.dropFirst()).allSatisfy { $0.deliverAt <= $1.deliverAt })
        let counts = scenario.truth.counts
        #expect(counts.duplicates > 0 && counts.delayed > 0 && counts.lostLastGasps > 0 && counts.calls > 0)
        // A repeated ONU message carries the same eventId twice.
        let onuIDs = scenario.deliveries.filter { $0.feed == .onu }.compactMap { delivery -> String? in
            guard case .object(let members) = try? JSONValue.parse(Data(delivery.body.utf8)),
                  case .string(let id)? = members["eventId"] else { return nil }
            return id
        }
        #expect(Set(onuIDs).count < onuIDs.count)
        // A late message: its time is earlier than the time of a message delivered before it.
        let scadaTimes = try scenario.deliveries.filter { $0.feed != .kaifa }.map { delivery -> Date in
            let result = Self.decodedTime(delivery)
            return try #require(result)
        }
        #expect(zip(scadaTimes, scadaTimes.dropFirst()).contains { $0 > $1 })
        let tickets = scenario.deliveries.filter { $0.feed == .callcenter }.compactMap {
            try? CallCenterDecoder.decodeBatch(Array($0.body.utf8)).first?.get()
        }
        #expect(tickets.contains { $0.meterNumber == nil })
        #expect(tickets.contains { ($0.meterNumber ?? "").contains("-") || ($0.meterNumber ?? "").contains(" ") || ($0.meterNumber ?? "").hasPrefix("m") })
    }

    static func decodedTime(_ delivery: Delivery) -> Date? {
        let body = Array(delivery.body.utf8)
        switch delivery.feed {
        case .scada: return try? SCADADecoder.decodeBatch(body).first?.get().timestamp
        case .onu: return try? ONUDecoder.decodeBatch(body).first?.get().timestamp
        case .callcenter: return try? CallCenterDecoder.decodeBatch(body).first?.get().timestamp
        case .kaifa: return try? KAIFADecoder.decodeBatch(body).first?.get().createdDateTime
        }
    }

    @Test("a breaker trip: one feeder trips, recloses twice, locks out, closes at restoration; no noise")
    func breakerTrip() throws {
        let scenario = Self.scenario(.breakerTrip)
        let failure = try #require(scenario.truth.failures.first)
        #expect(scenario.truth.failures.count == 1 && failure.device == .feeder)
        #expect(scenario.truth.commNoise.isEmpty)
        let scada = scenario.deliveries.filter { $0.feed == .scada }.compactMap {
            try? SCADADecoder.decodeBatch(Array($0.body.utf8)).first?.get()
        }
        let sequence = scada.sorted { $0.timestamp < $1.timestamp }.map(\.eventType)
        // Repeats and late delivery may add or move messages; the sequence itself is there, in time order.
        var seen = Set<String>()
        #expect(sequence.filter { seen.insert($0).inserted } == ["BreakerTrip", "BreakerReclose", "Lockout", "BreakerClose"])
        #expect(sequence.filter { $0 == "BreakerTrip" }.count >= 3, "three shots before the lockout")
        #expect(scada.allSatisfy { $0.feederID == failure.deviceID && $0.substationID == failure.substationID })
        #expect(scada.filter { $0.eventType == "BreakerClose" }.allSatisfy { abs($0.timestamp.timeIntervalSince(failure.restoredAt)) < 0.001 })
    }

    @Test("communication noise alone: meters go silent and come back; nothing loses power")
    func commNoiseOnly() throws {
        let scenario = Self.scenario(.commNoise)
        #expect(scenario.truth.failures.isEmpty)
        #expect(scenario.truth.commNoise.count == 80)
        let kaifa = scenario.deliveries.filter { $0.feed == .kaifa }.flatMap {
            KAIFADecoder.decodeBatch(Array($0.body.utf8)).compactMap { try? $0.get().eventTypeRef }
        }
        #expect(Set(kaifa) == ["3.23.0.47", "3.23.0.216"])
        #expect(!scenario.deliveries.contains { $0.feed == .scada || $0.feed == .callcenter })
        #expect(!scenario.deliveries.contains { $0.body.contains("LastGasp") })
    }

    @Test("the scenario's files read back as written")
    func files() throws {
        let scenario = Self.scenario(.storm)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-scenario-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try ScenarioFiles.write(scenario, to: folder)
        // Times are written to the millisecond: compared to the millisecond.
        #expect(try Self.normalized(ScenarioFiles.readDeliveries("\(folder)/events.jsonl")) == Self.normalized(scenario.deliveries))
        #expect(try Self.normalized(ScenarioFiles.readTruth(ScenarioFiles.path(folder, file: ScenarioFiles.truth))) == Self.normalized(scenario.truth))
        try "{\"seq\": 1}\n".write(toFile: "\(folder)/bad.jsonl", atomically: true, encoding: .utf8)
        #expect(throws: ScenarioFileError.self) { try ScenarioFiles.readDeliveries("\(folder)/bad.jsonl") }
    }

    /// JSON with every time as whole milliseconds since 1970.
    static func normalized(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Int64((date.timeIntervalSince1970 * 1000).rounded()))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
