import Foundation
import HTTPTypes
import Hummingbird
import OMSFeeds

/// An RFC 9457 problem document (`application/problem+json`); thrown by a route, `ProblemMiddleware` answers it.
struct ProblemDetails: Error, Encodable, Sendable {
    /// One refused field.
    struct FieldError: Encodable, Sendable {
        var index: Int?
        var field: String?
        var reason: String
    }

    var type: String
    var title: String
    var status: Int
    var detail: String
    var errors: [FieldError]? = nil

    /// A request whose body could not be accepted, with each refused field.
    static func invalidInput(_ errors: [FeedDecodingError], what: String) -> ProblemDetails {
        ProblemDetails(
            type: "/problems/invalid-input",
            title: "Invalid \(what)",
            status: 400,
            detail: errors.map(\.description).joined(separator: "; "),
            errors: errors.map { FieldError(index: $0.index, field: $0.field, reason: $0.reason) })
    }

    /// 404: `detail` says what is not there.
    static func notFound(_ detail: String) -> ProblemDetails {
        ProblemDetails(type: "/problems/not-found", title: "Not Found", status: 404, detail: detail)
    }

    func response() throws -> Response {
        try JSONResponse.make(self, status: HTTPResponse.Status(code: status), contentType: "application/problem+json")
    }
}
