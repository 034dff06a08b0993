/// An HTTP benchmark request failed.
struct HTTPBenchError: Error, CustomStringConvertible {
    let path: String
    let status: Int
    let body: String
    var description: String { "\(path) answered \(status): \(body)" }
}
