/// The database did not answer in time.
struct TimeoutError: Error, CustomStringConvertible {
    var description: String { "the database did not answer in time" }
}
