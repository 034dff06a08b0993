import ArgumentParser
import Foundation
import Hummingbird
import OMSHTTP
import OMSStore
import PostgresNIO

/// `oms serve`: migrate, then serve the HTTP API until SIGINT or SIGTERM (a graceful stop:
/// requests in flight finish, then the pool closes).
///
/// Each setting comes from, in this order: its flag, its environment variable, the config file
/// (`--config FILE` or `$OMS_CONFIG`, JSON), the default.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API, keeping the managed database running while serving.",
        discussion: """
            Settings: flag, else environment (OMS_HOST, OMS_PORT, OMS_MAX_BODY_BYTES, OMS_DATABASE_URL), else the \
            JSON config file (--config or OMS_CONFIG: {"host", "port", "max_body_bytes", "database_url"}), else \
            the default (127.0.0.1:8080, 8 MiB bodies, the managed cluster).
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default 8080).")
    var port: Int?

    @Option(name: .customLong("max-body-bytes"), help: "The largest request body accepted; larger ones get 413 (default 8388608).")
    var maxBodyBytes: Int?

    @Option(name: .customLong("config"), help: "A JSON file of settings (also $OMS_CONFIG).")
    var configFile: String?

    /// The settings of a config file; every field optional.
    struct FileSettings: Decodable, Equatable {
        var host: String?
        var port: Int?
        var maxBodyBytes: Int?
        var databaseURL: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case host, port, maxBodyBytes = "max_body_bytes", databaseURL = "database_url"
        }

        /// Reads and checks a config file: an unknown key or a wrong type is an error naming it.
        static func load(_ path: String) throws -> FileSettings {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("config file \(path): cannot be read")
            }
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw ValidationError("config file \(path): not a JSON object")
            }
            let known = Set(CodingKeys.allCases.map(\.rawValue))
            if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
                throw ValidationError("config file \(path): unknown setting \"\(unknown)\" (known: \(known.sorted().joined(separator: ", ")))")
            }
            do {
                return try JSONDecoder().decode(FileSettings.self, from: data)
            } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
                throw ValidationError("config file \(path): \(context.codingPath.map(\.stringValue).joined(separator: ".")): wrong type")
            }
        }
    }

    /// The server settings and the database URL (if any), by flag, environment, file, default.
    static func resolve(
        host: String?, port: Int?, maxBodyBytes: Int?, databaseURL: String?, configFile: String?,
        environment: [String: String]
    ) throws -> (ServerSettings, databaseURL: String?) {
        let path = configFile ?? environment["OMS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let file = try path.map(FileSettings.load) ?? FileSettings()
        func number(_ name: String) throws -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text) else { throw ValidationError("\(name)=\(text): not a whole number") }
            return value
        }
        var settings = ServerSettings()
        settings.host = host ?? environment["OMS_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? file.host ?? settings.host
        settings.port = try port ?? number("OMS_PORT") ?? file.port ?? settings.port
        settings.maximumBodySize = try maxBodyBytes ?? number("OMS_MAX_BODY_BYTES") ?? file.maxBodyBytes ?? settings.maximumBodySize
        guard (0...65535).contains(settings.port) else { throw ValidationError("port \(settings.port): not from 0 to 65535") }
        guard settings.maximumBodySize > 0 else { throw ValidationError("max body bytes \(settings.maximumBodySize): must be positive") }
        let url = databaseURL ?? environment["OMS_DATABASE_URL"] ?? environment["DATABASE_URL"] ?? file.databaseURL
        return (settings, url.flatMap { $0.isEmpty ? nil : $0 })
    }

    func run() async throws {
        let (settings, url) = try Self.resolve(
            host: host, port: port, maxBodyBytes: maxBodyBytes, databaseURL: database.databaseURL, configFile: configFile,
            environment: ProcessInfo.processInfo.environment)
        var database = database
        database.databaseURL = url
        let logger = database.makeLogger()
        try await database.withDatabase(logger: logger) { configuration, _ in
            try await serve(configuration: configuration, settings: settings, logger: logger)
        }
    }
}

/// Runs the application until it is asked to stop; the database pool is one of its services.
func serve(configuration: PostgresClient.Configuration, settings: ServerSettings, logger: Logger) async throws {
    let metrics = ServiceMetrics()
    let client = PostgresClient(configuration: configuration, backgroundLogger: metrics.poolLogger(wrapping: logger))
    let app = try buildApplication(client: client, settings: settings, logger: logger, metrics: metrics)
    logger.notice("serving", metadata: ["address": "http://\(settings.host):\(settings.port)"])
    try await app.runService()
}
