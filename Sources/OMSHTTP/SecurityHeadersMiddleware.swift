import Foundation
import HTTPTypes
import Hummingbird

/// Headers that keep the console's pages to themselves, on every answer: a Content-Security-Policy
/// that runs only the service's own scripts and styles, connects only to the service and loads
/// images only from it (and the tile server, when one is set); no framing by other sites
/// (clickjacking); no content-type sniffing; no referrer leaving the page.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: String

    /// `tileURL`: Leaflet's template (`https://{s}.tile.example/{z}/{x}/{y}.png`); its host may
    /// load images. A `{s}` subdomain placeholder becomes a wildcard (`*.tile.example`).
    init(tileURL: String) {
        var images = "'self' data:"
        let template = tileURL.replacingOccurrences(of: "{s}.", with: "SUBDOMAIN.")
            .replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "")
        if let url = URL(string: template), let scheme = url.scheme, let host = url.host {
            images += " \(scheme)://\(host.replacingOccurrences(of: "SUBDOMAIN.", with: "*."))"
        }
        policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src \(images); connect-src 'self'; "
            + "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = policy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.xFrameOptions] = "DENY"
        return response
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
}
