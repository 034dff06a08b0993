import ArgumentParser
import Foundation
import OMSStore

/// `oms validate`: the seed's validation checklist, one named check per line.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the registry, mappings, views and indexes; exits 1 when a check fails."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = database.makeLogger()
        let expected = try Migration.bundled().last?.version ?? 0
        let checks = try await database.withDatabase(logger: logger) { configuration, _ in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                let inspector = SchemaInspector(client: client, logger: logger)
                let version = try await inspector.schemaVersion()
                let schema = ValidationCheck(
                    name: "schema current", passed: version == expected,
                    detail: "schema version \(version.map(String.init) ?? "none"), this oms expects \(expected)"
                        + (version == expected ? "" : ": run oms migrate"))
                guard version != nil else { return [schema] }
                return [schema] + (try await inspector.validationReport())
            }
        }
        let width = checks.map(\.name.count).max() ?? 0
        for check in checks {
            let padded = check.name.padding(toLength: width, withPad: " ", startingAt: 0)
            print("\(check.passed ? "pass" : "FAIL")  \(padded)  \(check.detail)")
        }
        let failed = checks.filter { !$0.passed }.count
        print(failed == 0 ? "all \(checks.count) checks passed" : "\(failed) of \(checks.count) checks failed")
        if failed > 0 { throw ExitCode(1) }
    }
}
