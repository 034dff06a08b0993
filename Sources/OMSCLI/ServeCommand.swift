import ArgumentParser
import Foundation
import Hummingbird
import OMSHTTP
import OMSStore
import PostgresNIO
import ServiceLifecycle
import UnixSignals

/// `oms serve`: migrate, then serve the HTTP API until SIGINT or SIGTERM (a graceful stop:
/// requests in flight finish, then the pool closes). A database that cannot be used does not
/// stop it: it serves 503s (and `/ready` the reason) until the database can be used. With
/// `--tls-cert` and `--tls-key` it serves HTTPS only, and SIGHUP reloads the two files (without
/// TLS a SIGHUP is logged and ignored).
///
/// Each setting comes from, in this order: its flag, its environment variable, the config file
/// (`--config FILE` or `$OMS_CONFIG`, JSON), the default.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API, keeping the managed database running while serving.",
        discussion: """
            Settings: flag, else environment (OMS_HOST, OMS_PORT, OMS_MAX_BODY_BYTES, OMS_IDLE_TIMEOUT, \
            OMS_BODY_READ_TIMEOUT, OMS_STREAM_BUFFER, OMS_SESSION_HOURS, OMS_LEAFLET_DIR, OMS_MAP_TILES, \
            OMS_MAP_ATTRIBUTION, OMS_TLS_CERT, OMS_TLS_KEY, OMS_DATABASE_URL), else the JSON config file (--config or \
            OMS_CONFIG: {"host", "port", "max_body_bytes", "idle_timeout", "body_read_timeout", "stream_buffer_events", \
            "session_hours", "leaflet_dir", "map_tiles", "map_attribution", "tls_cert", "tls_key", "database_url"}), else \
            the default (127.0.0.1:8080, plain HTTP, 8 MiB bodies, idle \
            connections closed after 30 s, bodies whole within 30 s, 1,000 events waiting per stream client, console \
            sessions of 12 hours, Leaflet from /usr/share/javascript/leaflet, no map tiles, the managed cluster). The \
            operator console is at / (sign in with an API key that has the scope read). A database that cannot be used \
            (unreachable, refusing the login, missing) does not stop the service: /health answers 200, /ready 503 \
            with the server's reason, requests that need the database 503 with Retry-After, and once the database \
            can be used it is migrated and served, without a restart. --connect-timeout (OMS_CONNECT_TIMEOUT, 5 s) \
            bounds each connection attempt. With --tls-cert and --tls-key (PEM; both or neither) it serves HTTPS only; \
            SIGHUP reads the two files again for new connections (open ones keep theirs; a file that fails keeps the \
            old certificate, logged). Without TLS, SIGHUP is logged and ignored.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default 8080).")
    var port: Int?

    @Option(name: .customLong("max-body-bytes"), help: "The largest request body accepted; larger ones get 413 (default 8388608).")
    var maxBodyBytes: Int?

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may send nothing (or half a request) before it is closed (default 30).")
    var idleTimeout: Double?

    @Option(name: .customLong("body-read-timeout"), help: "Seconds a request body has to arrive whole; a slower one gets 408 (default 30).")
    var bodyReadTimeout: Double?

    @Option(name: .customLong("stream-buffer"), help: "Events that may wait for one live-stream client before it is ended as too slow (default 1000).")
    var streamBuffer: Int?

    @Option(name: .customLong("session-hours"), help: "Hours a console sign-in lasts at most (default 12, a shift).")
    var sessionHours: Double?

    @Option(name: .customLong("leaflet-dir"), help: "Where Leaflet's files are (default /usr/share/javascript/leaflet, Debian's libjs-leaflet).")
    var leafletDirectory: String?

    @Option(name: .customLong("map-tiles"), help: "A tile layer URL template for the console's map, e.g. https://tile.example/{z}/{x}/{y}.png (default none: the network is the map).")
    var mapTiles: String?

    @Option(name: .customLong("map-attribution"), help: "The tile layer's attribution, shown on the map.")
    var mapAttribution: String?

    @Option(name: .customLong("tls-cert"), help: "Serve HTTPS with this certificate: a PEM file, the server's certificate first, then its chain (needs --tls-key; reloaded on SIGHUP).")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "The private key of --tls-cert: a PEM file, not encrypted (reloaded on SIGHUP).")
    var tlsKey: String?

    @Option(name: .customLong("meter-feeds"), help: "How a synchronous KAIFA or ONU request is applied: grouped (through the feed intake, with whatever else waits there: a storm's requests about one area correlated together), direct (one call in the request), or adaptive (direct when the service has nothing else in hand, else grouped) (default adaptive).")
    var meterFeeds: ServerSettings.MeterFeedApplication?

    @Option(name: .customLong("grouped-wait"), help: "Seconds a grouped request waits for its messages to be applied before it is answered 503 (they are applied all the same) (default 30).")
    var groupedWait: Double?

    @Option(name: .customLong("config"), help: "A JSON file of settings (also $OMS_CONFIG).")
    var configFile: String?

    /// The TLS files given by flag (nil: from the environment, the file, or none).
    struct TLSFlags: Equatable {
        var certificate: String?
        var key: String?
    }

    /// The console's settings given by flag (nil: from the environment, the file or the default).
    struct ConsoleFlags: Equatable {
        var sessionHours: Double?
        var leafletDirectory: String?
        var mapTiles: String?
        var mapAttribution: String?
    }

    /// The connection and stream limits given by flag (nil: from the environment, the file or the default).
    struct LimitFlags: Equatable {
        var idleTimeout: Double?
        var bodyReadTimeout: Double?
        var streamBuffer: Int?
    }

    /// How synchronous meter-feed requests are applied, given by flag (nil: from the environment, the file or the default).
    struct FeedFlags: Equatable {
        var meterFeeds: ServerSettings.MeterFeedApplication?
        var groupedWait: Double?
    }

    /// The settings of a config file; every field optional.
    struct FileSettings: Decodable, Equatable {
        var host: String?
        var port: Int?
        var maxBodyBytes: Int?
        var idleTimeout: Double?
        var bodyReadTimeout: Double?
        var streamBufferEvents: Int?
        var databaseURL: String?
        var sessionHours: Double?
        var leafletDirectory: String?
        var mapTiles: String?
        var mapAttribution: String?
        var tlsCertificate: String?
        var tlsKey: String?
        var meterFeeds: String?
        var groupedWait: Double?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case host, port, maxBodyBytes = "max_body_bytes", idleTimeout = "idle_timeout", bodyReadTimeout = "body_read_timeout"
            case streamBufferEvents = "stream_buffer_events", databaseURL = "database_url"
            case sessionHours = "session_hours", leafletDirectory = "leaflet_dir", mapTiles = "map_tiles"
            case mapAttribution = "map_attribution", tlsCertificate = "tls_cert", tlsKey = "tls_key"
            case meterFeeds = "meter_feeds", groupedWait = "grouped_wait"
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
        host: String?, port: Int?, maxBodyBytes: Int?, limits: LimitFlags = LimitFlags(), console: ConsoleFlags = ConsoleFlags(),
        tls: TLSFlags = TLSFlags(), feeds: FeedFlags = FeedFlags(), databaseURL: String?,
        configFile: String?, environment: [String: String]
    ) throws -> (ServerSettings, databaseURL: String?) {
        let path = configFile ?? environment["OMS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let file = try path.map(FileSettings.load) ?? FileSettings()
        func number(_ name: String) throws -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text) else { throw ValidationError("\(name)=\(text): not a whole number") }
            return value
        }
        func text(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        /// A variable holding a number of `unit`s.
        func decimal(_ name: String, _ unit: String) throws -> Double? {
            guard let text = text(name) else { return nil }
            guard let value = Double(text) else { throw ValidationError("\(name)=\(text): not a number of \(unit)") }
            return value
        }
        func seconds(_ name: String) throws -> Double? { try decimal(name, "seconds") }
        var settings = ServerSettings()
        settings.host = host ?? text("OMS_HOST") ?? file.host ?? settings.host
        settings.port = try port ?? number("OMS_PORT") ?? file.port ?? settings.port
        settings.maximumBodySize = try maxBodyBytes ?? number("OMS_MAX_BODY_BYTES") ?? file.maxBodyBytes ?? settings.maximumBodySize
        settings.idleTimeout = try limits.idleTimeout ?? seconds("OMS_IDLE_TIMEOUT") ?? file.idleTimeout ?? settings.idleTimeout
        settings.bodyReadTimeout = try limits.bodyReadTimeout ?? seconds("OMS_BODY_READ_TIMEOUT") ?? file.bodyReadTimeout
            ?? settings.bodyReadTimeout
        settings.streamBufferEvents = try limits.streamBuffer ?? number("OMS_STREAM_BUFFER") ?? file.streamBufferEvents
            ?? settings.streamBufferEvents
        settings.console.sessionHours = try console.sessionHours ?? decimal("OMS_SESSION_HOURS", "hours") ?? file.sessionHours
            ?? settings.console.sessionHours
        settings.console.leafletDirectory = console.leafletDirectory ?? text("OMS_LEAFLET_DIR") ?? file.leafletDirectory
            ?? settings.console.leafletDirectory
        settings.console.tileURL = console.mapTiles ?? text("OMS_MAP_TILES") ?? file.mapTiles ?? settings.console.tileURL
        settings.console.tileAttribution = console.mapAttribution ?? text("OMS_MAP_ATTRIBUTION") ?? file.mapAttribution
            ?? settings.console.tileAttribution
        if let mode = feeds.meterFeeds?.rawValue ?? text("OMS_METER_FEEDS") ?? file.meterFeeds {
            guard let application = ServerSettings.MeterFeedApplication(rawValue: mode) else {
                throw ValidationError("meter feeds \(mode): must be adaptive, grouped or direct")
            }
            settings.meterFeedApplication = application
        }
        settings.groupedAnswerLimit = try feeds.groupedWait ?? seconds("OMS_GROUPED_WAIT") ?? file.groupedWait ?? settings.groupedAnswerLimit
        guard settings.groupedAnswerLimit > 0, settings.groupedAnswerLimit <= 3600 else {
            throw ValidationError("grouped wait \(settings.groupedAnswerLimit): must be from 0 to 3600 seconds (not 0)")
        }
        // TLS: both files or neither, each from its flag, variable or file key.
        switch (tls.certificate ?? text("OMS_TLS_CERT") ?? file.tlsCertificate, tls.key ?? text("OMS_TLS_KEY") ?? file.tlsKey) {
        case (nil, nil):
            settings.tls = nil
        case (let certificate?, let key?):
            settings.tls = TLSFiles(certificatePath: certificate, keyPath: key)
        case (let certificate?, nil):
            throw ValidationError(#"--tls-cert \#(certificate) needs --tls-key (OMS_TLS_KEY, "tls_key"): give both or neither"#)
        case (nil, let key?):
            throw ValidationError(#"--tls-key \#(key) needs --tls-cert (OMS_TLS_CERT, "tls_cert"): give both or neither"#)
        }
        guard settings.console.sessionHours > 0, settings.console.sessionHours <= 168 else {
            throw ValidationError("session hours \(settings.console.sessionHours): must be more than 0 and at most 168")
        }
        if !settings.console.tileURL.isEmpty {
            guard let url = URL(string: settings.console.tileURL.replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "")),
                  ["http", "https"].contains(url.scheme ?? ""), url.host != nil
            else { throw ValidationError("map tiles \(settings.console.tileURL): not an http(s) URL template") }
        }
        guard (0...65535).contains(settings.port) else { throw ValidationError("port \(settings.port): not from 0 to 65535") }
        guard settings.maximumBodySize > 0 else { throw ValidationError("max body bytes \(settings.maximumBodySize): must be positive") }
        guard settings.idleTimeout > 0, settings.idleTimeout <= 86_400 else {
            throw ValidationError("idle timeout \(settings.idleTimeout): must be from 0 to 86400 seconds (not 0)")
        }
        guard settings.bodyReadTimeout > 0, settings.bodyReadTimeout <= 86_400 else {
            throw ValidationError("body read timeout \(settings.bodyReadTimeout): must be from 0 to 86400 seconds (not 0)")
        }
        guard (1...1_000_000).contains(settings.streamBufferEvents) else {
            throw ValidationError("stream buffer \(settings.streamBufferEvents): must be from 1 to 1000000 events")
        }
        let url = databaseURL ?? environment["OMS_DATABASE_URL"] ?? environment["DATABASE_URL"] ?? file.databaseURL
        return (settings, url.flatMap { $0.isEmpty ? nil : $0 })
    }

    func run() async throws {
        let (settings, url) = try Self.resolve(
            host: host, port: port, maxBodyBytes: maxBodyBytes,
            limits: LimitFlags(idleTimeout: idleTimeout, bodyReadTimeout: bodyReadTimeout, streamBuffer: streamBuffer),
            console: ConsoleFlags(
                sessionHours: sessionHours, leafletDirectory: leafletDirectory, mapTiles: mapTiles, mapAttribution: mapAttribution),
            tls: TLSFlags(certificate: tlsCertificate, key: tlsKey),
            feeds: FeedFlags(meterFeeds: meterFeeds, groupedWait: groupedWait),
            databaseURL: database.databaseURL, configFile: configFile, environment: ProcessInfo.processInfo.environment)
        var database = database
        database.databaseURL = url
        let logger = database.makeLogger()
        // The TLS files are checked before anything starts: a bad one is refused, naming its option.
        let certificates: TLSCertificates?
        do {
            certificates = try settings.tls.map { files throws(TLSFilesError) in try TLSCertificates(files: files, logger: logger) }
        } catch {
            throw ValidationError(error.description)
        }
        // SIGHUP is trapped from here on: it reloads the TLS files (or, without TLS, is logged and ignored).
        let hangup = await HangupReload(certificates: certificates, logger: logger)
        try await database.withDatabase(logger: logger) { configuration, _ in
            try await serve(configuration: configuration, settings: settings, logger: logger, tls: certificates, hangup: hangup)
        }
    }
}

/// Runs the application until it is asked to stop; the database pool is one of its services.
///
/// The database need not be usable at start: the service then serves anyway (`/health` 200,
/// `/ready` 503 with the server's reason, requests that need the database 503 with
/// `Retry-After` at once), and migrates and opens when the database can be used
/// (`DatabaseGate`, which watches the pool through its background logger).
///
/// With `tls` (or `settings.tls`) it serves HTTPS; with `hangup` that service runs beside the
/// application (SIGHUP reloads `tls`).
func serve(
    configuration: PostgresClient.Configuration, settings: ServerSettings, logger: Logger,
    tls: TLSCertificates? = nil, hangup: HangupReload? = nil,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) async throws {
    let metrics = ServiceMetrics()
    let watch = DatabaseWatch(configuration: configuration)
    let client = PostgresClient(
        configuration: configuration, backgroundLogger: watch.poolLogger(wrapping: metrics.poolLogger(wrapping: logger)))
    let app = try buildApplication(
        client: client, settings: settings, logger: logger, metrics: metrics, watch: watch, tls: tls, onServerRunning: onServerRunning)
    let origin = "\(tls == nil && settings.tls == nil ? "http" : "https")://\(settings.host):\(settings.port)"
    logger.notice("serving", metadata: ["address": "\(origin)", "console": "\(origin)/"])
    if !FileManager.default.fileExists(atPath: settings.console.leafletDirectory + "/leaflet.js") {
        logger.warning("the console's map needs Leaflet: install Debian's libjs-leaflet, or give --leaflet-dir", metadata: [
            "leaflet_dir": "\(settings.console.leafletDirectory)",
        ])
    }
    if let hangup {
        let group = ServiceGroup(configuration: .init(
            services: [app, hangup], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    } else {
        try await app.runService()
    }
}

extension ServerSettings.MeterFeedApplication: ExpressibleByArgument {}
