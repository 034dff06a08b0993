import Foundation

/// How the commands write JSON for people and scripts: pretty, keys sorted.
enum JSONOutput {
    static func text(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Writes `value` to the file at `path` (the commands' `--json FILE`).
    static func write(_ value: some Encodable, to path: String) throws {
        try encoder.encode(value).write(to: URL(fileURLWithPath: path))
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }
}
