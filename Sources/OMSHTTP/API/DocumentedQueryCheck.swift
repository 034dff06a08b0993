import Hummingbird
import OMSDomain

/// Checks a generated route's query parameters against their documented types before the generated
/// decoder reads them: a required one missing, or one that is not the documented kind (a whole
/// number, a number, true or false, an ISO 8601 time with a zone), is refused with 400 naming it.
struct DocumentedQueryCheck<Context: RequestContext>: RouterMiddleware {
    let operations: DocumentedOperations

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let operation = operations.operation(method: request.method, route: context.endpointPath) {
            let query = request.uri.queryParameters
            for parameter in operation.query {
                guard let value = query[parameter.name[...]].map(String.init) else {
                    if parameter.required { throw InvalidInput(parameter.name, "is required") }
                    continue
                }
                if let reason = Self.refusal(of: value, as: parameter.kind) { throw InvalidInput(parameter.name, reason) }
            }
        }
        return try await next(request, context)
    }

    /// Why `value` is not of `kind`; nil when it is.
    static func refusal(of value: String, as kind: DocumentedOperations.QueryParameter.Kind) -> String? {
        switch kind {
        case .string, .list:
            nil
        case .integer:
            Int(value) == nil ? "\(value.prefix(40)) is not a whole number" : nil
        case .number:
            (Double(value).map(\.isFinite) ?? false) ? nil : "\(value.prefix(40)) is not a number"
        case .boolean:
            value == "true" || value == "false" ? nil : "\(value.prefix(40)) is not true or false"
        case .time:
            ISO8601Time.parse(value) == nil ? "\(value.prefix(40)) is not an ISO 8601 time such as 2025-09-30T10:00:00Z" : nil
        }
    }
}
