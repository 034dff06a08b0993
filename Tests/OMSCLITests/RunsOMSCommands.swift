import ArgumentParser
import Foundation

@testable import OMSCLI

/// Test suites that run `oms` commands in process, as the command line would.
protocol RunsOMSCommands {}

extension RunsOMSCommands {
    /// Parses `arguments` as `oms …` and runs the command.
    ///
    /// A command given `--database-url` and no `--connect-timeout` gets `connectTimeoutSeconds`
    /// (30 s), not the default 5: at the test suite's busiest the shared test server can take
    /// longer than 5 s to accept a connection, which is load, not the wrong URL those tests are about.
    func run(_ arguments: [String], connectTimeoutSeconds: Int = 30) async throws {
        let arguments = arguments.contains("--database-url") && !arguments.contains("--connect-timeout")
            ? arguments + ["--connect-timeout", String(connectTimeoutSeconds)] : arguments
        var command = try OMSCommand.parseAsRoot(arguments)
        guard var asyncCommand = command as? any AsyncParsableCommand else {
            try command.run()
            return
        }
        try await asyncCommand.run()
    }

    /// Runs `body` with a new folder under the temporary directory, removed afterwards.
    func withScratchFolder<T>(_ body: (String) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-cli-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try await body(folder)
    }
}
