import HTTPTypes
import Hummingbird

/// Answers every request with `X-Request-Id`: the id Hummingbird gives the request and
/// puts in its log lines (`hb.request.id`), so a client's report leads to the log.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[Self.headerName] = context.id
        return response
    }
}
