import ArgumentParser
import Foundation
import OMSFuzzing
import OMSSimulation

extension FeedKind: ExpressibleByArgument {}

/// `oms fuzz`: the feed decoders on inputs made from the feeds' real samples (`FeedMutator`),
/// checking what must hold for any bytes a client sends (`FeedFuzzer`). The test suite runs
/// 100,000 inputs per feed with seed 13; this runs as many as asked, with any seed.
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Decode many mutated feed messages and check every answer (no crash, no hang, named refusals).",
        discussion: """
            Inputs are deterministic by seed: input I of seed S is the same on every machine, so \
            `--seed S --start I --count 1 --save FILE` writes a failing input for a regression test. Each \
            input is written to --current before it is decoded: if the process dies, that file holds the \
            input that killed it. Exits 1 when a property was broken.
            """
    )

    @Option(help: "scada, onu, kaifa or callcenter (default: all four).")
    var feed: [FeedKind] = []

    @Option(help: "Inputs per feed.")
    var count = 100_000

    @Option(help: "The generator's seed.")
    var seed: UInt64 = 13

    @Option(help: "Skip the first inputs of the seed's sequence.")
    var start = 0

    @Option(name: .customLong("time-limit"), help: "Seconds one input may take.")
    var timeLimit = 2.0

    @Option(help: "Write the file of the input being decoded here (kept if the process dies).")
    var current: String = ".oms/fuzz-current.bin"

    @Option(help: "Write the inputs (with --count 1, the input) to this file or folder.")
    var save: String?

    @Option(help: "Also write the report as JSON to this file.")
    var json: String?

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be at least 1") }
        guard start >= 0 else { throw ValidationError("--start must be 0 or more") }
        guard timeLimit > 0 else { throw ValidationError("--time-limit must be positive") }
    }

    func run() throws {
        let feeds = feed.isEmpty ? FeedKind.allCases : feed
        let currentURL = URL(fileURLWithPath: current)
        try FileManager.default.createDirectory(at: currentURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        if let save, count > 1 || feeds.count > 1 {
            try FileManager.default.createDirectory(atPath: save, withIntermediateDirectories: true)
        }
        var reports: [FeedFuzzer.Report] = []
        for feed in feeds {
            let report = FeedFuzzer.run(
                feed: feed, count: count, seed: seed, startingAt: start, timeLimit: .milliseconds(Int(timeLimit * 1000))
            ) { index, input in
                try? Data(input).write(to: currentURL)
                guard let save else { return }
                let path = count == 1 && feeds.count == 1 ? save : "\(save)/\(feed.rawValue)-\(seed)-\(index).bin"
                try? Data(input).write(to: URL(fileURLWithPath: path))
            }
            reports.append(report)
            print(String(
                format: "%@: %d inputs (%.1f MiB) in %.1f s, %d with messages accepted (%d messages), %d refused whole or in part; slowest %.4f s of CPU time (input %d); %d broken properties",
                feed.rawValue, report.inputs, Double(report.bytes) / 1_048_576, report.seconds, report.accepted,
                report.messagesAccepted, report.refused, report.slowestSeconds, report.slowestIndex, report.violations.count))
            for violation in report.violations.prefix(20) { print("  \(violation)") }
        }
        try? FileManager.default.removeItem(at: currentURL)
        if let json { try JSONOutput.write(reports, to: json) }
        if reports.contains(where: { !$0.violations.isEmpty }) { throw ExitCode(1) }
    }
}
