extension Duration {
    /// The duration in seconds, as a Double (timings, timeouts, SQL intervals).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
