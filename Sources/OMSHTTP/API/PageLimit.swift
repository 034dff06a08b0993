/// The `limit` query parameter of pages and lists: 100 when absent, else a whole number from 1 to
/// `maximum`; anything else is refused naming `limit`.
enum PageLimit {
    /// The largest page (or list) a client may ask for.
    static let maximum = 1000
    static let standard = 100

    static func checked(_ limit: Int?, noun: String = "page size") throws -> Int {
        let value = limit ?? standard
        guard (1...maximum).contains(value) else {
            throw InvalidInput("limit", "\(value) is not a \(noun) from 1 to \(maximum)")
        }
        return value
    }
}
