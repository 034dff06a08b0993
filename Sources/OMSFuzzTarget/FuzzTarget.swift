// The feed decoders as a libFuzzer target (coverage-guided fuzzing with the toolchain's
// libFuzzer): `scripts/fuzz-decoders.sh kaifa 300` builds it with -sanitize=fuzzer and runs it
// on the feed's samples. Every input is checked with the properties the test suite checks
// (`FeedFuzzer.check`); a broken one stops the run, and libFuzzer keeps the input.
//
// Built without -DLIBFUZZER (as `swift build` does), the same executable decodes the files it
// is given and prints each outcome: the way to replay what a fuzzing run found.
import Foundation
import OMSFeeds
import OMSFuzzing
import OMSSimulation

/// The feed under test: `OMS_FUZZ_FEED` (scada, onu, kaifa, callcenter), KAIFA by default.
let feedUnderTest = ProcessInfo.processInfo.environment["OMS_FUZZ_FEED"].flatMap(FeedKind.init(rawValue:)) ?? .kaifa

#if LIBFUZZER
/// Before the first input: writes the feed's real samples into `OMS_FUZZ_SEEDS` (the corpus folder), so
/// that a run starts from real messages.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let folder = ProcessInfo.processInfo.environment["OMS_FUZZ_SEEDS"] {
        for (index, sample) in FeedSamples.samples(for: feedUnderTest).enumerated() {
            FileManager.default.createFile(atPath: "\(folder)/sample-\(index)", contents: Data(sample))
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    let results = FeedFuzzer.decode(feedUnderTest, input)
    let broken = FeedFuzzer.check(results)
    if !broken.isEmpty {
        fatalError("a property of the \(feedUnderTest.rawValue) decoder was broken: \(broken.map { "\($0.0): \($0.1)" })")
    }
    return 0
}

/// libFuzzer's driver (its `main`, callable): SwiftPM links an executable's entry point under the
/// target's name, so the target starts the driver itself.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("oms_fuzz_target_main")
public func fuzzTargetMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var count = argc
    var arguments = argv
    var zero: CInt = 0
    _ = fuzzInitialize(&zero, &arguments)
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
@main
struct ReplayFuzzInputs {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let input = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let results = FeedFuzzer.decode(feedUnderTest, input)
            let broken = FeedFuzzer.check(results)
            print("\(path): \(results.count) message(s): " + results.map {
                switch $0 {
                case .success: "accepted"
                case .failure(let error): "refused (\(error))"
                }
            }.joined(separator: "; ") + (broken.isEmpty ? "" : "; BROKEN: \(broken)"))
        }
    }
}
#endif
