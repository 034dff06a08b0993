import Foundation
import Logging
import OMSAPI
import OMSStore
import PostgresNIO

/// The operations of the API that are generated from openapi.json (`APIProtocol`): reads of the
/// network, meters, outages and settings, the two admin writes, health and readiness.
/// Each answers with the generated types; a refusal is thrown (`InvalidInput`, `HTTPError`, a
/// database error) and answered as a problem document by `ProblemMiddleware`. Authentication and
/// scopes are the router's (`RequireScope`, by the operation's `x-oms-scope`).
///
/// The feed routes, the live stream, the metrics and the document itself are written by hand (see
/// `FeedController`, `StreamController`, `buildRouter`, `OpenAPIController`).
struct APIHandler: APIProtocol {
    let meters: MeterQueries
    let outages: OutageQueries
    let actions: OutageActions
    let health: HealthCheck
    let logger: Logger
}

/// What a handler knows of the request it serves beyond its input: the request's logger (with its
/// request id and, behind `RequireScope`, the API key's id). Set for the handler by the router.
enum RequestEnvironment {
    @TaskLocal static var logger: Logger?
    /// The request's API key (its name is the actor of an operator action).
    @TaskLocal static var key: AuthenticatedKey?
}
