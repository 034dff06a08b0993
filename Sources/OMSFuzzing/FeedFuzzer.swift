import Foundation
import OMSDomain
import OMSFeeds
import OMSSimulation

/// Runs a feed's decoder over many generated inputs and checks, for each, what must hold
/// whatever a client sends: the decoder returns (a crash ends the process, so a test run that
/// finishes is the proof), within `timeLimit` of its thread's CPU time (what the input costs,
/// whatever else the machine is doing); every refusal says why in a bounded, printable
/// sentence; in a batch every refusal names its item; no accepted message holds a character
/// the database cannot store.
public enum FeedFuzzer {
    /// One broken property of one input.
    public struct Violation: Sendable, Codable, CustomStringConvertible {
        /// The input's position in the run (with the seed, it regenerates the input).
        public var index: Int
        public var property: String
        public var detail: String
        /// The input, base64.
        public var input: String

        public var description: String { "input \(index): \(property): \(detail)" }
    }

    /// What a run saw.
    public struct Report: Sendable, Codable {
        public var feed: String
        public var seed: UInt64
        public var inputs = 0
        /// Inputs of which at least one message was accepted.
        public var accepted = 0
        /// Inputs refused whole.
        public var refused = 0
        public var messagesAccepted = 0
        public var messagesRefused = 0
        public var bytes = 0
        /// Wall-clock seconds of the whole run.
        public var seconds = 0.0
        /// CPU seconds of the costliest input (`slowestIndex`).
        public var slowestSeconds = 0.0
        public var slowestIndex = 0
        public var violations: [Violation] = []
    }

    /// The outcome of decoding one body: per message, the accepted message as it would be stored, or the refusal.
    public static func decode(_ feed: FeedKind, _ body: [UInt8]) -> [Result<JSONValue, FeedDecodingError>] {
        switch feed {
        case .scada: SCADADecoder.decodeBatch(body).map { $0.map(\.message) }
        case .onu: ONUDecoder.decodeBatch(body).map { $0.map(\.message) }
        case .kaifa: KAIFADecoder.decodeBatch(body).map { $0.map(\.message) }
        case .callcenter: CallCenterDecoder.decodeBatch(body).map { $0.map(\.message) }
        }
    }

    /// Decodes `count` inputs of the feed made from `seed`, checking each.
    /// `before` sees each input before it is decoded (e.g. to keep it on disk, should the process die).
    public static func run(
        feed: FeedKind, count: Int, seed: UInt64, startingAt start: Int = 0, timeLimit: Duration = .seconds(2),
        before: (Int, [UInt8]) -> Void = { _, _ in }
    ) -> Report {
        var mutator = FeedMutator(feed: feed, seed: seed)
        var report = Report(feed: feed.rawValue, seed: seed)
        let clock = ContinuousClock()
        let began = clock.now
        for index in 0..<(start + count) {
            let input = mutator.next()
            guard index >= start else { continue }
            before(index, input)
            let started = threadCPUTime()
            let results = decode(feed, input)
            let took = threadCPUTime() - started
            report.inputs += 1
            report.bytes += input.count
            let seconds = took.seconds
            if seconds > report.slowestSeconds {
                report.slowestSeconds = seconds
                report.slowestIndex = index
            }
            let acceptedMessages = results.filter { if case .success = $0 { true } else { false } }.count
            report.messagesAccepted += acceptedMessages
            report.messagesRefused += results.count - acceptedMessages
            if acceptedMessages > 0 { report.accepted += 1 } else { report.refused += 1 }
            var broken: [(String, String)] = []
            if took > timeLimit { broken.append(("time", "took \(seconds) s of CPU time (limit \(timeLimit.seconds) s)")) }
            broken += check(results)
            for (property, detail) in broken where report.violations.count < 100 {
                report.violations.append(Violation(
                    index: index, property: property, detail: detail, input: Data(input).base64EncodedString()))
            }
        }
        report.seconds = (clock.now - began).seconds
        return report
    }

    /// The CPU time this thread has used: a decoder's cost, which a loaded machine does not inflate
    /// as it does the wall clock.
    static func threadCPUTime() -> Duration {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }

    /// The properties every decoding of any body must have; each broken one as (property, detail).
    public static func check(_ results: [Result<JSONValue, FeedDecodingError>]) -> [(String, String)] {
        var broken: [(String, String)] = []
        if results.isEmpty { broken.append(("answer", "no outcome at all: a body must be accepted or refused")) }
        for (position, result) in results.enumerated() {
            switch result {
            case .failure(let error):
                let text = error.description
                if error.reason.isEmpty { broken.append(("refusal", "item \(position): no reason")) }
                if text.count > FeedDecodingError.maximumDescriptionLength {
                    broken.append(("refusal", "item \(position): \(text.count) characters, over the bound"))
                }
                if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                    broken.append(("refusal", "item \(position): holds a control character: \(text.debugDescription.prefix(200))"))
                }
                if results.count > 1 && error.index == nil {
                    broken.append(("refusal", "item \(position) of a batch does not name its item: \(text.prefix(200))"))
                }
            case .success(let message):
                if let path = message.pathHoldingNUL() {
                    broken.append(("accepted", "item \(position) holds NUL at \(path.isEmpty ? "(the message)" : path)"))
                }
            }
        }
        return broken
    }
}
