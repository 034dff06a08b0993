import Foundation
import OMSAPI
import OMSStore
import OpenAPIRuntime
import PostgresNIO

/// The settings, and changing one (checked by the database against the setting's type and range;
/// logged at notice with the key that changed it).
extension APIHandler {
    func listSettings(_ input: Operations.ListSettings.Input) async throws -> Operations.ListSettings.Output {
        .ok(.init(body: .json(.init(items: try await meters.settings()))))
    }

    func setSetting(_ input: Operations.SetSetting.Input) async throws -> Operations.SetSetting.Output {
        let key = input.path.key
        guard case .json(let body) = input.body else { throw InvalidInput(nil, "the body must be JSON") }
        guard !Self.holdsNUL(body.value.value) else { throw BodyField.invalid("value", "must not contain NUL (U+0000)") }
        let change: SettingChange
        do {
            change = try await meters.setSetting(key, value: JSONBValue(body.value))
        } catch let error as PSQLError where error.isState("P0002") {
            throw ProblemDetails.notFound("no setting \(key)")
        } catch let error as PSQLError where error.isDataException {
            // 22023 names the bound ("onu.confidence must be a number from 0 to 1, not 1.5").
            throw BodyField.invalid(error.serverInfo?[.columnName] ?? "value", error.serverInfo?[.message] ?? "invalid")
        }
        (RequestEnvironment.logger ?? logger).notice("setting \(key) changed: \(change.previousValue) -> \(change.value)", metadata: [
            "setting": "\(key)", "previous_value": "\(change.previousValue)", "value": "\(change.value)",
        ])
        return .ok(.init(body: .json(change.setting)))
    }

    /// Whether a JSON value holds U+0000 in any string or key (PostgreSQL text cannot hold it).
    static func holdsNUL(_ value: (any Sendable)?) -> Bool {
        switch value {
        case let text as String: text.contains("\u{0}")
        case let array as [(any Sendable)?]: array.contains(where: holdsNUL)
        case let object as [String: (any Sendable)?]: object.contains { $0.key.contains("\u{0}") || holdsNUL($0.value) }
        default: false
        }
    }
}
