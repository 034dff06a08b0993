import Foundation

/// A day on a simulated network, as the four feeds tell it: devices fail (distribution points,
/// feeders, substations) and are restored, meters and ONUs send last gasps (some lost),
/// customers call, meters go silent without losing power (communication noise), and the feeds
/// repeat and delay messages as real ones do. The result is the delivery-ordered message stream
/// and the ground truth. Deterministic: the same network, parameters and seed give the same bytes.
public struct Scenario: Sendable {
    /// What happens.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// One feeder locks out.
        case breakerTrip = "breaker-trip"
        /// Many devices fail over the storm's duration.
        case storm
        /// No failures: only meters that go silent.
        case commNoise = "comm-noise"
        /// A storm with communication noise.
        case mixed
    }

    /// The knobs of a scenario; `defaults(for:)` gives each kind's.
    public struct Parameters: Codable, Sendable, Equatable {
        public var kind: Kind
        public var seed: UInt64
        /// When the scenario starts (its first failure comes a minute later).
        public var start: Date
        /// Failures happen within the first 70% of this.
        public var durationMinutes: Int
        public var failedDPs: Int
        public var failedFeeders: Int
        public var failedSubstations: Int
        /// Share of last gasps (and power-up messages) the feeds lose.
        public var lastGaspLossRate: Double
        /// Share of meters (with AMI or an ONU) that go silent for a while without losing power.
        public var commNoiseRate: Double
        /// Share of messages delivered twice.
        public var duplicateRate: Double
        /// Share of messages delivered late (30 s to 5 min), after newer ones.
        public var outOfOrderRate: Double
        /// Expected calls per affected customer (0.1: one customer in ten calls).
        public var callsPerAffectedCustomer: Double
        /// Share of failures restored within five minutes (momentary interruptions).
        public var momentaryShare: Double
        /// Other failures are restored after this many minutes (uniform in the range).
        public var restorationMinutesMin: Int
        public var restorationMinutesMax: Int
        /// Share of KAIFA messages sent as SOAP XML (the rest as JSON).
        public var kaifaXMLShare: Double
        /// Share of calls whose meter number is typed loosely (case, dashes, spaces); another as many give no meter number.
        public var looseMeterNumberShare: Double
        /// SCADA messages reach the service this many seconds after they happen (nil: 0.2 s, at once):
        /// a large delay puts them after the last gasps ("SCADA last").
        public var scadaDelaySeconds: Double?

        /// The defaults of a kind.
        public static func defaults(for kind: Kind, seed: UInt64 = 1) -> Parameters {
            var parameters = Parameters(
                kind: kind, seed: seed, start: Date(timeIntervalSince1970: 1_768_478_400),  // 2026-01-15T12:00:00Z
                durationMinutes: 120, failedDPs: 0, failedFeeders: 0, failedSubstations: 0, lastGaspLossRate: 0.05,
                commNoiseRate: 0, duplicateRate: 0.02, outOfOrderRate: 0.02, callsPerAffectedCustomer: 0.1,
                momentaryShare: 0.2, restorationMinutesMin: 20, restorationMinutesMax: 180, kaifaXMLShare: 0.5,
                looseMeterNumberShare: 0.1)
            switch kind {
            case .breakerTrip:
                parameters.failedFeeders = 1
                parameters.momentaryShare = 0
                parameters.durationMinutes = 60
            case .storm:
                (parameters.failedDPs, parameters.failedFeeders, parameters.failedSubstations) = (14, 5, 1)
            case .commNoise:
                parameters.commNoiseRate = 0.02
            case .mixed:
                (parameters.failedDPs, parameters.failedFeeders, parameters.failedSubstations) = (14, 5, 1)
                parameters.commNoiseRate = 0.02
            }
            return parameters
        }
    }

    public let parameters: Parameters
    /// The messages, in the order they arrive.
    public private(set) var deliveries: [Delivery] = []
    public private(set) var truth: GroundTruth

    /// One feed event before it is put into a message.
    private struct Event {
        enum Body {
            case message(String)
            case kaifa(FeedMessages.KAIFAEvent)
        }
        var ordinal: Int
        var deliverAt: Date
        var feed: FeedKind
        var body: Body
        /// The failure this event shows (outage evidence only, not restoration).
        var failure: Int?
    }

    public init(network: SimulatedNetwork, parameters: Parameters) {
        self.parameters = parameters
        let p = parameters
        var random = SeededRandom(seed: p.seed ^ 0x5CE7_A210)

        // The network's shape: meters by DP, DPs by feeder, feeders by substation.
        let premisesByDP = Dictionary(grouping: network.premises.indices, by: { network.premises[$0].dp })
        let dpsByFeeder = Dictionary(grouping: network.distributionPoints, by: { $0.parent ?? "" })
        let feedersBySubstation = Dictionary(grouping: network.feeders, by: { $0.parent ?? "" })
        let feederOfDP = Dictionary(uniqueKeysWithValues: network.distributionPoints.map { ($0.id, $0.parent ?? "") })
        let substationOfFeeder = Dictionary(uniqueKeysWithValues: network.feeders.map { ($0.id, $0.parent ?? "") })
        let elements = Dictionary(
            uniqueKeysWithValues: (network.substations + network.feeders + network.distributionPoints).map { ($0.id, $0) })
        func premises(under kind: DeviceKind, _ id: String) -> [Int] {
            switch kind {
            case .dp: return premisesByDP[id] ?? []
            case .feeder: return (dpsByFeeder[id] ?? []).flatMap { premisesByDP[$0.id] ?? [] }
            case .substation: return (feedersBySubstation[id] ?? []).flatMap { premises(under: .feeder, $0.id) }
            }
        }

        // Which devices fail: substations first, then feeders and DPs not under a failed device
        // (failures do not overlap, so each meter's truth is one failure); only devices with meters.
        var chosen: [(DeviceKind, String)] = []
        var failedSubstations = Set<String>()
        var failedFeeders = Set<String>()
        for substation in network.substations.shuffled(using: &random)
        where chosen.count < p.failedSubstations && !premises(under: .substation, substation.id).isEmpty {
            chosen.append((.substation, substation.id))
            failedSubstations.insert(substation.id)
        }
        var feederCount = 0
        for feeder in network.feeders.shuffled(using: &random)
        where feederCount < p.failedFeeders && !failedSubstations.contains(feeder.parent ?? "")
            && !premises(under: .feeder, feeder.id).isEmpty {
            chosen.append((.feeder, feeder.id))
            failedFeeders.insert(feeder.id)
            feederCount += 1
        }
        var dpCount = 0
        for dp in network.distributionPoints.shuffled(using: &random) where dpCount < p.failedDPs {
            let feeder = dp.parent ?? ""
            guard !failedFeeders.contains(feeder), !failedSubstations.contains(substationOfFeeder[feeder] ?? ""),
                  !(premisesByDP[dp.id] ?? []).isEmpty else { continue }
            chosen.append((.dp, dp.id))
            dpCount += 1
        }

        // When: spread over the first 70% of the duration, in order of failure.
        let window = Double(p.durationMinutes * 60) * 0.7
        var timed = chosen.map { (device: $0, at: p.start.addingTimeInterval(60 + Double.random(in: 0...max(window - 60, 0), using: &random))) }
        timed.sort { $0.at < $1.at || ($0.at == $1.at && $0.device.1 < $1.device.1) }

        var events: [Event] = []
        var counts = GroundTruth.Counts()
        var ordinal = 0
        func emit(_ feed: FeedKind, at deliverAt: Date, _ body: Event.Body, failure: Int? = nil) {
            ordinal += 1
            events.append(Event(ordinal: ordinal, deliverAt: SimulationTime.milliseconds(deliverAt), feed: feed, body: body, failure: failure))
        }
        func ms(_ date: Date) -> Date { SimulationTime.milliseconds(date) }
        var scadaCount = 0, onuCount = 0, kaifaCount = 0, ticketCount = 0
        func scadaID() -> String { scadaCount += 1; return String(format: "SCADA-%06d", scadaCount) }
        func onuID() -> String { onuCount += 1; return String(format: "OLT-EV-%07d", onuCount) }
        func kaifaID() -> String { kaifaCount += 1; return String(format: "KFA-EV-%07d", kaifaCount) }
        func ticketID() -> String { ticketCount += 1; return String(format: "TT-%06d", ticketCount) }

        var failures: [GroundTruth.Failure] = []
        var affected = Set<Int>()
        for (index, item) in timed.enumerated() {
            let (kind, deviceID) = item.device
            let failedAt = ms(item.at)
            let momentary = Double.random(in: 0..<1, using: &random) < p.momentaryShare
            let outageSeconds = momentary
                ? Double.random(in: 60...270, using: &random)
                : 60 * Double.random(in: Double(p.restorationMinutesMin)...Double(max(p.restorationMinutesMax, p.restorationMinutesMin)), using: &random)
            let restoredAt = ms(failedAt.addingTimeInterval(outageSeconds))
            let under = premises(under: kind, deviceID)
            affected.formUnion(under)
            let feederID: String? = switch kind {
            case .dp: feederOfDP[deviceID]
            case .feeder: deviceID
            case .substation: nil
            }
            let substationID = kind == .substation ? deviceID : substationOfFeeder[feederID ?? ""] ?? ""
            failures.append(GroundTruth.Failure(
                id: String(format: "F%02d", index + 1), device: kind, deviceID: deviceID, substationID: substationID,
                feederID: feederID, failedAt: failedAt, restoredAt: restoredAt,
                meters: under.map { network.premises[$0].meterNumber }, customers: under.map { network.premises[$0].customerID },
                firstEventSeq: nil))

            // SCADA: a feeder's breaker trips, recloses twice and locks out (~45 s); a substation
            // loses voltage. Closed again at restoration. DPs have no telemetry.
            let element = elements[deviceID]!
            func scada(_ offset: Double, _ type: String, _ alarm: String, voltage: Double, evidence: Bool, at base: Date = failedAt) {
                let time = base.addingTimeInterval(offset)
                let body = FeedMessages.scada(
                    id: scadaID(), eventType: type, alarmType: alarm, substation: substationID,
                    feeder: kind == .feeder ? deviceID : nil, at: time, voltage: voltage,
                    severity: evidence ? "High" : "Low", reason: evidence ? "Overcurrent" : nil,
                    latitude: element.latitude, longitude: element.longitude, receivedAt: time.addingTimeInterval(0.2))
                emit(.scada, at: time.addingTimeInterval(p.scadaDelaySeconds ?? 0.2), .message(body), failure: evidence ? index : nil)
            }
            switch kind {
            case .feeder:
                scada(0, "BreakerTrip", "Trip", voltage: 0, evidence: true)
                scada(0.5, "BreakerReclose", "Reclose", voltage: 11, evidence: false)
                scada(0.6, "BreakerTrip", "Trip", voltage: 0, evidence: true)
                scada(15.6, "BreakerReclose", "Reclose", voltage: 11, evidence: false)
                scada(15.7, "BreakerTrip", "Trip", voltage: 0, evidence: true)
                scada(45.7, "Lockout", "Lockout", voltage: 0, evidence: true)
                scada(0, "BreakerClose", "Close", voltage: 11, evidence: false, at: restoredAt)
            case .substation:
                scada(1, "MV_AlarmLossOfVoltage", "De-energized", voltage: 0, evidence: true)
                scada(0, "MV_AlarmVoltageRestored", "Energized", voltage: 11, evidence: false, at: restoredAt)
            case .dp:
                break
            }

            // Each premise: the ONU's dying gasp (one per ONU, a shared one too), the meter's power
            // down through the head-end, maybe a call; at restoration, power restored and power up.
            var onusSeen = Set<String>()
            for premiseIndex in under {
                let premise = network.premises[premiseIndex]
                if let onu = premise.onuID, onusSeen.insert(onu).inserted {
                    let gasp = failedAt.addingTimeInterval(Double.random(in: 0.05...3, using: &random))
                    if Double.random(in: 0..<1, using: &random) < p.lastGaspLossRate {
                        counts.lostLastGasps += 1
                    } else {
                        emit(.onu, at: gasp.addingTimeInterval(0.3), .message(FeedMessages.onu(
                            id: onuID(), alarm: .dyingGasp, onuID: onu, serial: premise.onuSerial, at: gasp,
                            latitude: premise.latitude, longitude: premise.longitude)), failure: index)
                    }
                    let back = restoredAt.addingTimeInterval(Double.random(in: 5...60, using: &random))
                    if Double.random(in: 0..<1, using: &random) >= p.lastGaspLossRate {
                        emit(.onu, at: back.addingTimeInterval(0.3), .message(FeedMessages.onu(
                            id: onuID(), alarm: .powerRestored, onuID: onu, serial: premise.onuSerial, at: back,
                            latitude: premise.latitude, longitude: premise.longitude)))
                    }
                }
                if let asset = premise.assetMRID {
                    let gasp = failedAt.addingTimeInterval(Double.random(in: 0.05...2, using: &random))
                    if Double.random(in: 0..<1, using: &random) < p.lastGaspLossRate {
                        counts.lostLastGasps += 1
                    } else {
                        emit(.kaifa, at: gasp.addingTimeInterval(Double.random(in: 2...20, using: &random)), .kaifa(.init(
                            mRID: kaifaID(), created: ms(gasp), typeRef: FeedMessages.KAIFACode.powerDown, assetMRID: asset,
                            usagePointMRID: premise.usagePointMRID, reason: "Power down", severity: "high")), failure: index)
                    }
                    let back = restoredAt.addingTimeInterval(Double.random(in: 5...120, using: &random))
                    if Double.random(in: 0..<1, using: &random) >= p.lastGaspLossRate {
                        emit(.kaifa, at: back.addingTimeInterval(Double.random(in: 2...20, using: &random)), .kaifa(.init(
                            mRID: kaifaID(), created: ms(back), typeRef: FeedMessages.KAIFACode.powerUp, assetMRID: asset,
                            usagePointMRID: premise.usagePointMRID, reason: "Power up", severity: "low")))
                    }
                }
                // Calls: on average callsPerAffectedCustomer per customer, a few minutes after, while the power is off.
                var expected = p.callsPerAffectedCustomer
                while expected > 0 {
                    let chance = min(expected, 1)
                    expected -= 1
                    guard Double.random(in: 0..<1, using: &random) < chance else { continue }
                    let delay = min(-log(1 - Double.random(in: 0..<0.999, using: &random)) * 600, 3600) + 30
                    let at = failedAt.addingTimeInterval(delay)
                    guard at < restoredAt else { continue }
                    let style = Double.random(in: 0..<1, using: &random)
                    let number: String? = style < p.looseMeterNumberShare
                        ? FeedMessages.typedByHand(premise.meterNumber, variant: Int.random(in: 0..<3, using: &random))
                        : style < 2 * p.looseMeterNumberShare ? nil : premise.meterNumber
                    counts.calls += 1
                    emit(.callcenter, at: at, .message(FeedMessages.ticket(
                        id: ticketID(), at: ms(at), phone: premise.phone, meterNumber: number, address: premise.address,
                        notes: "No power since \(Int(delay / 60)) minutes")), failure: index)
                }
            }
        }

        // Communication noise: meters with AMI or an ONU, not under a failure, that go silent
        // for 5 to 60 minutes: the head-end reports network loss, the OLT loss of signal.
        var noise: [GroundTruth.CommNoise] = []
        let candidates = network.premises.indices.filter {
            !affected.contains($0) && (network.premises[$0].assetMRID != nil || network.premises[$0].onuID != nil)
        }
        let noisy = Int((Double(network.premises.count) * p.commNoiseRate).rounded())
        for premiseIndex in candidates.shuffled(using: &random).prefix(noisy).sorted() {
            let premise = network.premises[premiseIndex]
            let silentAt = ms(p.start.addingTimeInterval(Double.random(in: 0...Double(p.durationMinutes * 60), using: &random)))
            let backAt = ms(silentAt.addingTimeInterval(60 * Double.random(in: 5...60, using: &random)))
            noise.append(GroundTruth.CommNoise(meter: premise.meterNumber, silentAt: silentAt, backAt: backAt))
            if let asset = premise.assetMRID {
                for (time, code, reason) in [(silentAt, FeedMessages.KAIFACode.networkLost, "Network loss"),
                                             (backAt, FeedMessages.KAIFACode.networkRestored, "Network restored")] {
                    emit(.kaifa, at: time.addingTimeInterval(Double.random(in: 2...20, using: &random)), .kaifa(.init(
                        mRID: kaifaID(), created: time, typeRef: code, assetMRID: asset, usagePointMRID: premise.usagePointMRID,
                        reason: reason, severity: "medium")))
                }
            }
            if let onu = premise.onuID {
                for (time, alarm) in [(silentAt, FeedMessages.ONUAlarm.lossOfSignal), (backAt, .signalRecovered)] {
                    emit(.onu, at: time.addingTimeInterval(0.3), .message(FeedMessages.onu(
                        id: onuID(), alarm: alarm, onuID: onu, serial: premise.onuSerial, at: time,
                        latitude: premise.latitude, longitude: premise.longitude)))
                }
            }
        }

        // The feeds' faults: some messages come twice, some late (after newer ones).
        var faulty: [Event] = []
        for var event in events {
            if Double.random(in: 0..<1, using: &random) < p.outOfOrderRate {
                event.deliverAt = ms(event.deliverAt.addingTimeInterval(Double.random(in: 30...300, using: &random)))
                counts.delayed += 1
            }
            faulty.append(event)
            if Double.random(in: 0..<1, using: &random) < p.duplicateRate {
                var repeated = event
                repeated.deliverAt = ms(event.deliverAt.addingTimeInterval(Double.random(in: 1...120, using: &random)))
                ordinal += 1
                repeated.ordinal = ordinal
                faulty.append(repeated)
                counts.duplicates += 1
            }
        }
        faulty.sort { $0.deliverAt < $1.deliverAt || ($0.deliverAt == $1.deliverAt && $0.ordinal < $1.ordinal) }
        counts.events = faulty.count

        // Messages: the head-end gathers the KAIFA events that arrive within two seconds into one
        // message (up to 100); every other event is a message of its own.
        var messages: [Delivery] = []
        var firstSeq = [Int?](repeating: nil, count: failures.count)
        var position = 0
        var kaifaMessages = 0
        func note(_ event: Event, seq: Int) {
            if let failure = event.failure, firstSeq[failure] == nil { firstSeq[failure] = seq }
        }
        while position < faulty.count {
            let event = faulty[position]
            let seq = messages.count + 1
            switch event.body {
            case .message(let body):
                messages.append(Delivery(seq: seq, deliverAt: event.deliverAt, feed: event.feed, contentType: "application/json", body: body))
                note(event, seq: seq)
                position += 1
            case .kaifa:
                var group: [FeedMessages.KAIFAEvent] = []
                while position < faulty.count, group.count < 100, case .kaifa(let item) = faulty[position].body,
                      faulty[position].deliverAt.timeIntervalSince(event.deliverAt) <= 2 {
                    group.append(item)
                    note(faulty[position], seq: seq)
                    position += 1
                }
                kaifaMessages += 1
                let xml = Double.random(in: 0..<1, using: &random) < p.kaifaXMLShare
                let deliverAt = faulty[position - 1].deliverAt
                messages.append(Delivery(
                    seq: seq, deliverAt: deliverAt, feed: .kaifa, contentType: xml ? "application/xml" : "application/json",
                    body: xml ? FeedMessages.kaifaXML(messageID: String(format: "MSG-%07d", kaifaMessages), at: deliverAt, events: group)
                        : FeedMessages.kaifaJSON(events: group)))
            }
        }
        for index in failures.indices { failures[index].firstEventSeq = firstSeq[index] }
        counts.messages = messages.count
        deliveries = messages
        truth = GroundTruth(scenario: p, network: network.parameters, failures: failures, commNoise: noise, counts: counts)
    }
}
