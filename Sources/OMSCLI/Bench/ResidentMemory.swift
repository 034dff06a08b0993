import Foundation

/// The resident memory (RSS) of this process, read from `/proc/self/status` (Linux), and its peak
/// while some work runs, sampled every 50 ms.
enum ResidentMemory {
    /// The process's resident set now, in bytes; nil where `/proc` is not there.
    static func current() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            // "VmRSS:     123456 kB"
            let kilobytes = line.dropFirst("VmRSS:".count).split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }

    /// Runs `work` while sampling the resident set; its result, the resident set before it and the
    /// largest sample, in bytes (nil where they cannot be read).
    static func peak<T: Sendable>(during work: () async throws -> T) async throws -> (T, before: Int?, peak: Int?) {
        let before = current()
        let sampler = Task {
            var largest = before
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                if let now = current() { largest = max(largest ?? 0, now) }
            }
            return largest
        }
        do {
            let result = try await work()
            sampler.cancel()
            let last = current()
            let largest = await sampler.value
            return (result, before, [largest, last].compactMap { $0 }.max())
        } catch {
            sampler.cancel()
            throw error
        }
    }
}
