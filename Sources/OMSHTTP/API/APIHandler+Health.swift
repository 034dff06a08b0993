import Foundation
import HTTPTypes
import OMSAPI
import OpenAPIRuntime

/// Liveness and readiness.
extension APIHandler {
    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: .alive))))
    }

    func getReady(_ input: Operations.GetReady.Input) async throws -> Operations.GetReady.Output {
        let ready = await health.check()
        guard ready.status == .ok else {
            return .serviceUnavailable(.init(headers: .init(retryAfter: DatabaseGate.retryAfterSeconds), body: .json(ready)))
        }
        return .ok(.init(body: .json(ready)))
    }
}
