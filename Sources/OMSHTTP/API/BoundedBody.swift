import Hummingbird

/// Reads the body of a request to a generated route within the service's limits (413 past the size,
/// 408 past the read timeout) before the route's decoder sees it: the OpenAPI runtime would collect
/// a body of any size.
struct BoundedBody<Context: RequestContext>: RouterMiddleware {
    let limits: BodyLimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post || request.method == .put || request.method == .patch else {
            return try await next(request, context)
        }
        var bounded = request
        bounded.body = RequestBody(buffer: try await request.collectBody(limits))
        return try await next(bounded, context)
    }
}
