import ArgumentParser
import Hummingbird
import OMSHTTP
import OMSStore
import PostgresNIO

/// `oms serve`: migrate, then serve the HTTP API until SIGINT or SIGTERM.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API (GET /health for now), keeping the managed database running while serving."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port: Int = 8080

    func run() async throws {
        let logger = database.makeLogger()
        try await database.withDatabase(logger: logger) { configuration, description in
            try await serve(configuration: configuration, settings: ServerSettings(host: host, port: port), logger: logger)
        }
    }
}

/// Runs the application until it is asked to stop; the database pool is one of its services.
func serve(configuration: PostgresClient.Configuration, settings: ServerSettings, logger: Logger) async throws {
    let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    let app = try buildApplication(client: client, settings: settings, logger: logger)
    logger.notice("serving", metadata: ["address": "http://\(settings.host):\(settings.port)"])
    try await app.runService()
}
