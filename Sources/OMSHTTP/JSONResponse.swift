import Foundation
import HTTPTypes
import Hummingbird

/// JSON bodies with the API's one naming style (snake_case keys, ISO 8601 times).
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status, contentType: String = "application/json")
        throws -> Response
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
