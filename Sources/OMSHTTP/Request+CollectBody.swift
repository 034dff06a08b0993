import Hummingbird

extension Request {
    /// The whole body: 413 past the size limit, 408 when it has not all arrived within the
    /// read timeout (a client trickling its body must not hold the request open for ever).
    func collectBody(_ limits: BodyLimits) async throws -> ByteBuffer {
        let body = self.body
        let (limit, deadline) = (limits.maximumSize, limits.readTimeout)
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw HTTPError(.requestTimeout, message: "the request body did not arrive within \(deadline) (ServerSettings.bodyReadTimeout)")
            }
            return buffer
        }
    }
}
