import Hummingbird

/// A request context that can close the connection its request came on: a stream whose client
/// stopped reading is ended by closing its connection, since a write to it would never finish.
public protocol ConnectionClosingContext: RequestContext {
    /// Closes the request's connection (nothing when there is none, e.g. in router tests).
    func closeConnection()
    /// Ends the request's connection a moment after its answer, so that the rest of a refused
    /// body is not read.
    func stopReading()
}
