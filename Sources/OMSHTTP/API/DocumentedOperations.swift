import Foundation
import HTTPTypes
import OMSAPI
import OMSDomain

/// What openapi.json says of each operation that the generated code does not enforce in the words
/// the service wants: the scope it needs (`x-oms-scope`) and its query parameters' types, so that a
/// refusal names the parameter (the generated decoder says only that a value did not convert). An
/// operation with `security` and no `x-oms-scope`, or an unknown scope, stops the service at start.
struct DocumentedOperations: Sendable {
    /// One documented query parameter.
    struct QueryParameter: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            case string, integer, number, boolean, time, list
        }

        var name: String
        var required: Bool
        var kind: Kind
    }

    /// One operation: its scope (nil: no key needed) and query parameters.
    struct Operation: Sendable {
        var scope: APIScope?
        var query: [QueryParameter]
    }

    /// "GET /api/v1/meters/{meter_number}" → operation.
    private let operations: [String: Operation]

    init(operations: [String: Operation]) {
        self.operations = operations
    }

    /// The operations of the document shipped with the build.
    static func load() throws -> DocumentedOperations {
        let document = try JSONSerialization.jsonObject(with: try OpenAPIDocument.data()) as? [String: Any] ?? [:]
        var operations: [String: Operation] = [:]
        for (path, item) in document["paths"] as? [String: Any] ?? [:] {
            for (method, value) in item as? [String: Any] ?? [:] {
                guard let entry = value as? [String: Any] else { continue }
                let key = "\(method.uppercased()) \(path)"
                var operation = Operation(scope: nil, query: [])
                if let name = entry["x-oms-scope"] as? String {
                    guard let scope = APIScope(rawValue: name) else { throw DocumentError("\(key): unknown x-oms-scope \(name)") }
                    operation.scope = scope
                } else if entry["security"] != nil {
                    throw DocumentError("\(key) has security but no x-oms-scope")
                }
                for parameter in entry["parameters"] as? [[String: Any]] ?? [] where parameter["in"] as? String == "query" {
                    guard let name = parameter["name"] as? String else { continue }
                    let schema = parameter["schema"] as? [String: Any] ?? [:]
                    let type = (schema["type"] as? String) ?? ((schema["type"] as? [String])?.first { $0 != "null" }) ?? "string"
                    let kind: QueryParameter.Kind = switch type {
                    case "integer": .integer
                    case "number": .number
                    case "boolean": .boolean
                    case "array": .list
                    default: schema["format"] as? String == "date-time" ? .time : .string
                    }
                    operation.query.append(.init(name: name, required: parameter["required"] as? Bool ?? false, kind: kind))
                }
                operations[key] = operation
            }
        }
        return DocumentedOperations(operations: operations)
    }

    /// The operation at this route (a router template, `:name` or `{name}`); nil when undocumented.
    func operation(method: HTTPRequest.Method, route: String?) -> Operation? {
        guard let route else { return nil }
        let template = route.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
        }.joined(separator: "/")
        return operations["\(method.rawValue) \(template)"]
    }

    /// openapi.json does not say what it must.
    struct DocumentError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = "openapi.json: " + description }
    }
}
