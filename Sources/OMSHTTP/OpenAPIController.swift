import Foundation
import Hummingbird
import NIOCore
import OMSAPI
import OMSDomain
import OMSStore

/// `GET /openapi.json` (scope `read`): the OpenAPI 3.1 description of this API (`OMSAPI`'s, the
/// source its types are generated from). `OpenAPITests` keeps it true: every route the router has is in it and every
/// documented answer has the documented shape.
struct OpenAPIController: Sendable {
    let keys: KeyCheck

    /// The document's bytes.
    static func document() throws -> Data {
        try OpenAPIDocument.data()
    }

    func addRoutes(to router: Router<some RequestContext>) {
        router.group("openapi.json").add(middleware: RequireScope(scope: .read, keys: keys)).get { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: try Self.document())))
        }
    }
}
