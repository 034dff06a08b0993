import HTTPTypes
import Hummingbird
import Logging
import OMSStore

/// Every error answer is an RFC 9457 problem document: a refused parameter or field (400,
/// `InvalidInput`), an unknown route (404),
/// a body over the limit (413), a wrong method, anything a route throws. An
/// unexpected error is logged with the request and answered 500 without its
/// details (they may name tables or values).
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as InvalidInput {
            return try error.problem.response()
        } catch let error as HTTPError {
            var response = try ProblemDetails(
                type: "/problems/\(error.status.code)", title: error.status.reasonPhrase, status: error.status.code,
                detail: error.body ?? Self.detail(for: error.status, request: request)
            ).response()
            for field in error.headers where field.name != .contentType && field.name != .contentLength {
                response.headers.append(field)
            }
            return response
        } catch let error as any HTTPResponseError {
            return try ProblemDetails(
                type: "/problems/\(error.status.code)", title: error.status.reasonPhrase, status: error.status.code,
                detail: Self.detail(for: error.status, request: request)
            ).response()
        } catch {
            context.logger.error("request failed", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error.readableDatabaseMessage)",
            ])
            return try ProblemDetails(
                type: "/problems/internal", title: "Internal Server Error", status: 500,
                detail: "the request could not be completed; the service log has the cause"
            ).response()
        }
    }

    static func detail(for status: HTTPResponse.Status, request: Request) -> String {
        switch status {
        case .notFound: "no route \(request.method) \(request.uri.path)"
        case .contentTooLarge: "the request body is larger than this service accepts (ServerSettings.maximumBodySize)"
        case .methodNotAllowed: "\(request.uri.path) does not take \(request.method)"
        default: status.reasonPhrase
        }
    }
}
