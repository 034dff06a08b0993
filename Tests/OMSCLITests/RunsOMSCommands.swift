import ArgumentParser

@testable import OMSCLI

/// Test suites that run `oms` commands in process, as the command line would.
protocol RunsOMSCommands {}

extension RunsOMSCommands {
    /// Parses `arguments` as `oms …` and runs the command.
    func run(_ arguments: [String]) async throws {
        var command = try OMSCommand.parseAsRoot(arguments)
        guard var asyncCommand = command as? any AsyncParsableCommand else {
            try command.run()
            return
        }
        try await asyncCommand.run()
    }
}
