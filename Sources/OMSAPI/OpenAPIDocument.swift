import Foundation

/// The OpenAPI 3.1 document of the service's HTTP API: the source the API's types are generated
/// from (`scripts/generate-api.sh`), served at `GET /openapi.json`.
public enum OpenAPIDocument {
    /// The document's bytes, as shipped with the build.
    public static func data() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "openapi.json is missing from the build"])
        }
        return try Data(contentsOf: url)
    }
}
