import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OMSDomain
import OMSStore

/// Lets a request through only with `Authorization: Bearer KEY` naming a key in
/// force that grants `scope` (or `admin`): 401 without a key or with an unknown
/// or revoked one, 403 with a key lacking the scope; both `application/problem+json`.
struct RequireScope<Context: RequestContext>: RouterMiddleware {
    let scope: APIScope
    let keys: KeyCheck

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            return try Self.unauthorized("this route needs an API key: send Authorization: Bearer KEY (oms keys create)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return try Self.unauthorized("the Authorization header must be \"Bearer KEY\"")
        }
        guard let key = try await keys.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            return try Self.unauthorized("unknown or revoked API key")
        }
        guard scope.isGranted(by: key.scopes) else {
            return try ProblemDetails(
                type: "/problems/forbidden", title: "Forbidden", status: 403,
                detail: "this route needs the scope \(scope.rawValue); the key \"\(key.name)\" has \(key.scopes.map(\.rawValue).joined(separator: ", "))"
            ).response()
        }
        var context = context
        context.logger[metadataKey: "api_key"] = "\(key.id)"
        return try await next(request, context)
    }

    static func unauthorized(_ detail: String) throws -> Response {
        var response = try ProblemDetails(type: "/problems/unauthorized", title: "Unauthorized", status: 401, detail: detail).response()
        response.headers[.wwwAuthenticate] = "Bearer realm=\"oms\""
        return response
    }
}
