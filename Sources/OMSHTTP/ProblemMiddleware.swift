import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1
import OMSStore
import OpenAPIRuntime

/// Every error answer is an RFC 9457 problem document: a refused parameter or field (400,
/// `InvalidInput`), an unknown route (404),
/// a body over the limit (413), a wrong method, a database that cannot be used (503 with
/// `Retry-After`: `DatabaseUnavailable` or a connection failure), anything a route throws. An
/// unexpected error is logged with the request and answered 500 without its
/// details (they may name tables or values).
///
/// A route generated from openapi.json reports through OpenAPIRuntime's `ServerError`: the route's own
/// error is answered as if the route were written by hand; a request its generated code could not
/// decode (a parameter of the wrong type, a body not of the documented shape) is a 400 naming the
/// parameter or field.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try answer(error, request: request, context: context)
        }
    }

    func answer(_ error: any Error, request: Request, context: Context) throws -> Response {
        do {
            throw error
        } catch let error as ServerError {
            guard error.operationInput != nil else { return try Self.undecodable(error).problem.response() }
            return try answer(error.underlyingError, request: request, context: context)
        } catch let problem as ProblemDetails {
            return try problem.response()
        } catch let error as InvalidInput {
            return try error.problem.response()
        } catch let error as HTTPParserError {
            // The request itself could not be parsed (a chunk size no one could send, a broken header):
            // the client's fault, said as such; the connection is closed after the answer.
            context.logger.info("request refused: not valid HTTP", metadata: ["error": "\(error)"])
            var response = try ProblemDetails(
                type: "/problems/invalid-http", title: "Bad Request", status: 400, detail: "the request is not valid HTTP (\(error))"
            ).response()
            response.headers[.connection] = "close"
            return response
        } catch let error as HTTPError {
            Self.endConnectionIfBodyRefused(error.status, context)
            var response = try ProblemDetails(
                type: "/problems/\(error.status.code)", title: error.status.reasonPhrase, status: error.status.code,
                detail: error.body ?? Self.detail(for: error.status, request: request)
            ).response()
            for field in error.headers where field.name != .contentType && field.name != .contentLength {
                response.headers.append(field)
            }
            return response
        } catch let error as any HTTPResponseError {
            Self.endConnectionIfBodyRefused(error.status, context)
            return try ProblemDetails(
                type: "/problems/\(error.status.code)", title: error.status.reasonPhrase, status: error.status.code,
                detail: Self.detail(for: error.status, request: request)
            ).response()
        } catch let error where error is DatabaseUnavailable || error.isDatabaseConnectionFailure {
            let reason = (error as? DatabaseUnavailable)?.reason ?? error.readableDatabaseMessage
            context.logger.info("request answered 503: the database is unavailable", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "reason": "\(reason)",
            ])
            return try Self.unavailable()
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

    /// 503 with `Retry-After`: the database cannot be used now. The reason stays in the log and
    /// in `GET /ready` (it may name hosts and roles).
    static func unavailable() throws -> Response {
        var response = try ProblemDetails(
            type: "/problems/database-unavailable", title: "Service Unavailable", status: 503,
            detail: "the service cannot use its database now; try again in \(DatabaseGate.retryAfterSeconds) s (GET /ready says why)"
        ).response()
        response.headers[.retryAfter] = "\(DatabaseGate.retryAfterSeconds)"
        return response
    }

    /// A request a generated route could not decode, named by its parameter or field where the
    /// decoding error says which.
    static func undecodable(_ error: ServerError) -> InvalidInput {
        var field: String?
        var reason = error.causeDescription
        if let decoding = error.underlyingError as? DecodingError {
            switch decoding {
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
                field = Self.name(context.codingPath)
                reason = context.debugDescription
            case .keyNotFound(let key, let context):
                field = Self.name(context.codingPath + [key])
                reason = "is required"
            @unknown default:
                break
            }
        }
        return InvalidInput(field, reason.isEmpty ? "could not be read" : reason, title: "Invalid request")
    }

    /// `a.b[2].c` from a coding path (snake_case names, as the document has them).
    static func name(_ path: [any CodingKey]) -> String? {
        guard !path.isEmpty else { return nil }
        return path.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }.joined(separator: ".")
            .replacingOccurrences(of: ".[", with: "[")
    }

    /// A body refused before it was read whole (413 over the limit, 408 too slow): read no more
    /// of it (Hummingbird would otherwise drain the rest, however large, to keep the connection)
    /// and end the connection after this answer.
    static func endConnectionIfBodyRefused(_ status: HTTPResponse.Status, _ context: Context) {
        guard status == .contentTooLarge || status == .requestTimeout else { return }
        (context as? any ConnectionClosingContext)?.stopReading()
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
