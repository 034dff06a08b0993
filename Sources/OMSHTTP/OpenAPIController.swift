import Foundation
import Hummingbird
import NIOCore
import OMSDomain
import OMSStore

/// `GET /openapi.json` (scope `read`): the OpenAPI 3.1 description of this API, bundled with
/// the module. `OpenAPITests` keeps it true: every route the router has is in it and every
/// documented answer has the documented shape.
struct OpenAPIController: Sendable {
    let keys: KeyCheck

    /// The document's bytes.
    static func document() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else {
            throw HTTPError(.internalServerError, message: "openapi.json is missing from the build")
        }
        return try Data(contentsOf: url)
    }

    func addRoutes(to router: Router<some RequestContext>) {
        router.group("openapi.json").add(middleware: RequireScope(scope: .read, keys: keys)).get { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: try Self.document())))
        }
    }
}
