import Foundation
import OMSFeeds
import OMSFuzzing
import OMSSimulation
import Testing

/// The decoders on 100,000 generated inputs per feed (a fixed seed, so a failure is
/// reproducible with `oms fuzz --feed F --seed 13 --start I --count 1 --save FILE`), and on
/// every input that ever broke one (`Regressions/`).
@Suite("Fuzzing the feed decoders", .serialized)
struct FuzzTests {
    static let seed: UInt64 = 13
    static let inputsPerFeed = 100_000

    @Test("100,000 mutated inputs per feed: every one answered in time, every refusal bounded and named", arguments: FeedKind.allCases)
    func mutatedInputs(feed: FeedKind) async {
        // Seconds of pure computation: on a thread of its own, not on the small pool that every
        // other (database) test of the run shares.
        let report = await onOwnThread { FeedFuzzer.run(feed: feed, count: Self.inputsPerFeed, seed: Self.seed, timeLimit: .seconds(5)) }
        print("fuzz \(feed.rawValue): \(report.inputs) inputs (\(report.bytes / 1024) KiB) in \(report.seconds) s; "
              + "\(report.accepted) with messages accepted, \(report.refused) refused; slowest \(report.slowestSeconds) s of CPU time (input \(report.slowestIndex))")
        #expect(report.inputs == Self.inputsPerFeed)
        #expect(report.violations.isEmpty, "\(report.violations.prefix(5).map(\.description).joined(separator: "\n"))")
        // A generator that only made garbage (or only valid messages) would test little.
        #expect(report.accepted > Self.inputsPerFeed / 100, "too few inputs were accepted: \(report.accepted)")
        #expect(report.refused > Self.inputsPerFeed / 10, "too few inputs were refused: \(report.refused)")
    }

    @Test("the same seed makes the same inputs; another seed other ones")
    func deterministic() {
        var first = FeedMutator(feed: .kaifa, seed: 5)
        var second = FeedMutator(feed: .kaifa, seed: 5)
        var other = FeedMutator(feed: .kaifa, seed: 6)
        let a = (0..<200).map { _ in first.next() }
        #expect(a == (0..<200).map { _ in second.next() })
        #expect(a != (0..<200).map { _ in other.next() })
    }

    @Test("every sample decodes as it is", arguments: FeedKind.allCases)
    func samplesDecode(feed: FeedKind) throws {
        for sample in FeedSamples.samples(for: feed) {
            let results = FeedFuzzer.decode(feed, sample)
            for result in results { _ = try result.get() }
            #expect(!results.isEmpty)
        }
    }

    /// Every regression file, with the start of the refusal it must get.
    static let regressions: [(feed: FeedKind, file: String, refusal: String)] = [
        (.kaifa, "invalid-utf8-element-name.xml", "is not well-formed XML: byte 27 (line 1, column 27) is not UTF-8 (0xC8 0x6D)"),
        (.kaifa, "nested-15000-levels.xml", "is not well-formed XML: elements are nested deeper than 64 levels"),
        (.kaifa, "cdata-before-root.xml", "is not well-formed XML: the root element is expected here"),
    ]

    @Test("every input that ever broke a decoder is refused, in time, by name")
    func regressions() throws {
        let folder = try #require(Bundle.module.url(forResource: "Regressions", withExtension: nil))
        var files: [String] = []
        for feed in FeedKind.allCases {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent(feed.rawValue).path)) ?? []
            files += names.map { "\(feed.rawValue)/\($0)" }
        }
        // Each file has its expectation here, and each expectation its file.
        #expect(Set(files) == Set(Self.regressions.map { "\($0.feed.rawValue)/\($0.file)" }))
        for (feed, file, refusal) in Self.regressions {
            let body = Array(try Data(contentsOf: folder.appendingPathComponent("\(feed.rawValue)/\(file)")))
            let started = ContinuousClock.now
            let results = FeedFuzzer.decode(feed, body)
            #expect(ContinuousClock.now - started < .seconds(2), "\(file)")
            #expect(FeedFuzzer.check(results).isEmpty, "\(file)")
            #expect(results.count == 1, "\(file)")
            guard case .failure(let error)? = results.first else {
                Issue.record("\(file) was accepted")
                continue
            }
            #expect(error.reason.hasPrefix(refusal), "\(file): \(error.reason)")
        }
    }
}

/// Runs `work` on a thread of its own and waits for its result without holding a thread of the
/// concurrency pool (2 threads on a 2-core machine: a long computation there stalls every test).
func onOwnThread<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async -> Value {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
