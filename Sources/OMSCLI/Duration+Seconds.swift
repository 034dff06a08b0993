extension Duration {
    /// The duration in seconds, as a Double (for timings printed by the commands and benchmarks).
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
