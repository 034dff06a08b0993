import Foundation
import OMSSimulation
import Testing

/// The score on hand-made cases whose right answers are worked out by hand.
@Suite("oms score: the arithmetic")
struct ScoreCardTests {
    static let t0 = Date(timeIntervalSince1970: 1_768_478_400)  // 12:00:00

    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    static func outage(
        _ id: String, _ status: String = "confirmed", substation: String, feeder: String? = nil, dp: String? = nil,
        at seconds: Double, created: Double? = nil, restored: Double? = nil, meters: [String]
    ) -> FoundOutage {
        FoundOutage(
            eventID: id, status: status, substationID: substation, feederID: feeder, dpID: dp, firstDetectedAt: at(seconds),
            createdAt: at(created ?? seconds), restoredAt: restored.map(at), meters: meters,
            customers: meters.map { "C" + $0.dropFirst() })
    }

    /// F1: feeder SS1-FD1 from 12:00 to 13:00, meters M1-M4; F2: DP SS2-FD1-DP1 from 12:30 to
    /// 12:40, meters M5-M6; M9 only went silent.
    static let truth = GroundTruth(
        scenario: .defaults(for: .mixed), network: .init(),
        failures: [
            .init(id: "F1", device: .feeder, deviceID: "SS1-FD1", substationID: "SS1", feederID: "SS1-FD1", failedAt: at(0),
                  restoredAt: at(3600), meters: ["M1", "M2", "M3", "M4"], customers: ["C1", "C2", "C3", "C4"], firstEventSeq: 3),
            .init(id: "F2", device: .dp, deviceID: "SS2-FD1-DP1", substationID: "SS2", feederID: "SS2-FD1", failedAt: at(1800),
                  restoredAt: at(2400), meters: ["M5", "M6"], customers: ["C5", "C6"], firstEventSeq: 9),
        ],
        commNoise: [.init(meter: "M9", silentAt: at(100), backAt: at(900))])

    @Test("found, duplicate, below, above, communication loss, other and cancelled outages, each counted as worked out")
    func everyKindOfOutage() {
        let outages = [
            Self.outage("O1", substation: "SS1", feeder: "SS1-FD1", at: 30, created: 0.05, restored: 3700, meters: ["M1", "M2", "M3"]),
            Self.outage("O2", substation: "SS1", feeder: "SS1-FD1", dp: "SS1-FD1-DP1", at: 1, meters: ["M1"]),
            Self.outage("O3", substation: "SS1", feeder: "SS1-FD1", at: 300, meters: ["M2"]),
            Self.outage("O4", substation: "SS2", feeder: "SS2-FD1", dp: "SS2-FD1-DP1", at: 5400, meters: ["M5"]),
            Self.outage("O5", substation: "SS3", feeder: "SS3-FD1", dp: "SS3-FD1-DP1", at: 200, meters: ["M9"]),
            Self.outage("O6", "cancelled", substation: "SS2", feeder: "SS2-FD1", dp: "SS2-FD1-DP1", at: 1805, meters: ["M5"]),
            Self.outage("O7", substation: "SS2", at: 1810, meters: ["M7"]),
        ]
        let delivery = DeliveryLog(speed: nil, requests: [
            .init(firstSeq: 1, lastSeq: 5, sentAt: Self.at(0), answeredAt: Self.at(0.1)),
            .init(firstSeq: 6, lastSeq: 9, sentAt: Self.at(0.2), answeredAt: Self.at(0.25)),
        ])
        let card = ScoreCard.compute(truth: Self.truth, outages: outages, delivery: delivery)
        #expect(card.failures == 2)
        #expect(card.outages == 6, "the cancelled one does not count")
        #expect(card.found == 1)
        #expect(abs(card.precision - 1.0 / 6) < 1e-9)
        #expect(card.recall == 0.5)
        #expect(abs(card.f1 - 0.25) < 1e-9)
        #expect(card.falseOutages == [.duplicate: 1, .below: 1, .above: 1, .communicationLoss: 1, .other: 1])
        // F1: O1, its duplicate O3 and O2 below it cover C1-C3 of C1-C4; F2: nothing of C5-C6.
        #expect(card.customersAffected == 6)
        #expect(card.customersFound == 3)
        #expect(card.customerError == -0.5)
        #expect(abs(card.meanCustomerErrorPerFailure - (0.25 + 1) / 2) < 1e-9)
        #expect(card.customersInFalseOutages == 3, "C5 (O4), C9 (O5), C7 (O7)")
        let f1 = card.results[0]
        #expect(f1.outage == "O1" && f1.outagesBelow == 1 && f1.customersFound == 3)
        #expect(f1.detectionDelaySeconds == 30)
        // The first message (seq 3) went at 12:00:00.000; O1 was recorded during that request, answered at .100.
        #expect(abs((f1.detectionLatencySeconds ?? -1) - 0.1) < 1e-6)
        #expect(f1.restorationErrorSeconds == 100)
        #expect(card.results[1].outage == nil && card.results[1].customersFound == 0)
        #expect(card.detectionDelaySeconds?.p50 == 30)
        #expect(card.restoredOutages == 1)
    }

    @Test("answered before applied (the feed intake): an outage recorded after the last answer is timed by when every message was seen applied")
    func latencyAfterTheLastAnswer() {
        let outages = [Self.outage("O1", substation: "SS1", feeder: "SS1-FD1", at: 30, created: 0.3, meters: ["M1", "M2", "M3"])]
        var delivery = DeliveryLog(speed: nil, requests: [
            .init(firstSeq: 1, lastSeq: 5, sentAt: Self.at(0), answeredAt: Self.at(0.1)),
            .init(firstSeq: 6, lastSeq: 9, sentAt: Self.at(0.2), answeredAt: Self.at(0.25)),
        ])
        #expect(ScoreCard.compute(truth: Self.truth, outages: outages, delivery: delivery).results[0].detectionLatencySeconds == nil)
        delivery.appliedAt = Self.at(0.5)
        let latency = ScoreCard.compute(truth: Self.truth, outages: outages, delivery: delivery).results[0].detectionLatencySeconds
        #expect(abs((latency ?? -1) - 0.5) < 1e-6)
    }

    @Test("the earliest outage naming the device is the one that found it; each outage finds one failure at most")
    func earliestFinds() {
        let outages = [
            Self.outage("late", substation: "SS1", feeder: "SS1-FD1", at: 100, meters: ["M1"]),
            Self.outage("early", substation: "SS1", feeder: "SS1-FD1", at: 50, meters: ["M2"]),
        ]
        let card = ScoreCard.compute(truth: Self.truth, outages: outages)
        #expect(card.results[0].outage == "early")
        #expect(card.falseOutages[.duplicate] == 1)
        #expect(card.results[0].detectionLatencySeconds == nil, "no delivery log, no latency")
    }

    @Test("outside the failure's time (a minute's grace either side) an outage naming its device is not it")
    func window() {
        let before = ScoreCard.compute(truth: Self.truth, outages: [
            Self.outage("O", substation: "SS2", feeder: "SS2-FD1", dp: "SS2-FD1-DP1", at: 1800 - 61, meters: ["M5"]),
        ])
        #expect(before.found == 0 && before.falseOutages[.other] == 1)
        let grace = ScoreCard.compute(truth: Self.truth, outages: [
            Self.outage("O", substation: "SS2", feeder: "SS2-FD1", dp: "SS2-FD1-DP1", at: 2400 + 59, meters: ["M5"]),
        ])
        #expect(grace.found == 1)
    }

    @Test("nothing failed: no outage is a perfect score, one outage from silent meters is all false")
    func nothingFailed() {
        let quiet = GroundTruth(scenario: .defaults(for: .commNoise), network: .init(), failures: [],
                                commNoise: [.init(meter: "M9", silentAt: Self.at(0), backAt: Self.at(600))])
        let clean = ScoreCard.compute(truth: quiet, outages: [])
        #expect(clean.precision == 1 && clean.recall == 1 && clean.f1 == 1)
        let noisy = ScoreCard.compute(truth: quiet, outages: [Self.outage("O", substation: "SS3", dp: "SS3-FD1-DP1", at: 10, meters: ["M9"])])
        #expect(noisy.precision == 0 && noisy.recall == 1 && noisy.f1 == 0)
        #expect(noisy.falseOutages[.communicationLoss] == 1)
        #expect(noisy.render().contains("false outages from communication loss alone: 1"))
    }
}
