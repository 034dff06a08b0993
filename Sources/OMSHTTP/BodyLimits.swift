/// How large a request body may be, and how long it may take to arrive.
struct BodyLimits: Sendable {
    var maximumSize: Int
    var readTimeout: Duration

    init(maximumSize: Int, readTimeout: Duration) {
        self.maximumSize = maximumSize
        self.readTimeout = readTimeout
    }

    init(_ settings: ServerSettings) {
        self.init(maximumSize: settings.maximumBodySize, readTimeout: .milliseconds(Int64(settings.bodyReadTimeout * 1000)))
    }
}
