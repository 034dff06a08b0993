import ArgumentParser
import Foundation
import OMSHTTP
import Testing

@testable import OMSCLI

@Suite("oms serve settings: flag, environment, config file, default")
struct ServeSettingsTests {
    func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oms-serve-\(UUID().uuidString.prefix(8)).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("each setting from its flag, else its environment variable, else the file, else the default")
    func precedence() throws {
        let path = try file(#"{"host": "0.0.0.0", "port": 9000, "max_body_bytes": 1000, "database_url": "postgres://file@db/oms"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (fromFile, fileURL) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path, environment: [:])
        #expect(fromFile.host == "0.0.0.0" && fromFile.port == 9000 && fromFile.maximumBodySize == 1000)
        #expect(fileURL == "postgres://file@db/oms")

        let (fromEnvironment, environmentURL) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil,
            environment: ["OMS_CONFIG": path, "OMS_PORT": "9100", "OMS_HOST": "10.0.0.5", "OMS_DATABASE_URL": "postgres://env@db/oms"])
        #expect(fromEnvironment.host == "10.0.0.5" && fromEnvironment.port == 9100 && fromEnvironment.maximumBodySize == 1000)
        #expect(environmentURL == "postgres://env@db/oms")

        let (fromFlags, flagURL) = try ServeCommand.resolve(
            host: "127.0.0.2", port: 9200, maxBodyBytes: 5000, databaseURL: "postgres://flag@db/oms", configFile: path,
            environment: ["OMS_PORT": "9100"])
        #expect(fromFlags.host == "127.0.0.2" && fromFlags.port == 9200 && fromFlags.maximumBodySize == 5000)
        #expect(flagURL == "postgres://flag@db/oms")

        let (defaults, noURL) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil, environment: [:])
        #expect(defaults.host == "127.0.0.1" && defaults.port == 8080 && defaults.maximumBodySize == 8 * 1024 * 1024)
        #expect(noURL == nil)
    }

    @Test("how synchronous meter-feed requests are applied: flag, environment, file, default; a wrong one named")
    func meterFeeds() throws {
        let path = try file(#"{"meter_feeds": "direct", "grouped_wait": 12}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (fromFile, _) = try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path, environment: [:])
        #expect(fromFile.meterFeedApplication == .direct && fromFile.groupedAnswerLimit == 12)
        let (fromEnvironment, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path,
            environment: ["OMS_METER_FEEDS": "grouped", "OMS_GROUPED_WAIT": "3"])
        #expect(fromEnvironment.meterFeedApplication == .grouped && fromEnvironment.groupedAnswerLimit == 3)
        let (fromFlags, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, feeds: .init(meterFeeds: .direct, groupedWait: 1), databaseURL: nil,
            configFile: path, environment: ["OMS_METER_FEEDS": "grouped"])
        #expect(fromFlags.meterFeedApplication == .direct && fromFlags.groupedAnswerLimit == 1)
        let (defaults, _) = try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil, environment: [:])
        #expect(defaults.meterFeedApplication == .adaptive && defaults.groupedAnswerLimit == 30)
        #expect(throws: ValidationError.self) {
            try ServeCommand.resolve(
                host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil, environment: ["OMS_METER_FEEDS": "batched"])
        }
        #expect(throws: ValidationError.self) {
            try ServeCommand.resolve(
                host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil, environment: ["OMS_GROUPED_WAIT": "0"])
        }
    }

    @Test("the connection and stream limits: flag, environment, file, default")
    func limits() throws {
        let path = try file(#"{"idle_timeout": 12.5, "body_read_timeout": 40, "stream_buffer_events": 300}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (fromFile, _) = try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path, environment: [:])
        #expect(fromFile.idleTimeout == 12.5 && fromFile.bodyReadTimeout == 40 && fromFile.streamBufferEvents == 300)
        let (fromEnvironment, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path,
            environment: ["OMS_IDLE_TIMEOUT": "5", "OMS_BODY_READ_TIMEOUT": "6", "OMS_STREAM_BUFFER": "7"])
        #expect(fromEnvironment.idleTimeout == 5 && fromEnvironment.bodyReadTimeout == 6 && fromEnvironment.streamBufferEvents == 7)
        let (fromFlags, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil,
            limits: .init(idleTimeout: 1, bodyReadTimeout: 2, streamBuffer: 3), databaseURL: nil, configFile: path,
            environment: ["OMS_IDLE_TIMEOUT": "5"])
        #expect(fromFlags.idleTimeout == 1 && fromFlags.bodyReadTimeout == 2 && fromFlags.streamBufferEvents == 3)
        let (defaults, _) = try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil, environment: [:])
        #expect(defaults.idleTimeout == 30 && defaults.bodyReadTimeout == 30 && defaults.streamBufferEvents == 1000)
    }

    @Test("the console's settings: session hours, Leaflet's folder, map tiles; flag, environment, file, default")
    func console() throws {
        let path = try file(#"{"session_hours": 8, "leaflet_dir": "/opt/leaflet", "map_tiles": "https://{s}.tiles.example/{z}/{x}/{y}.png", "map_attribution": "© tiles"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (fromFile, _) = try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path, environment: [:])
        #expect(fromFile.console.sessionHours == 8 && fromFile.console.leafletDirectory == "/opt/leaflet")
        #expect(fromFile.console.tileURL == "https://{s}.tiles.example/{z}/{x}/{y}.png" && fromFile.console.tileAttribution == "© tiles")
        let (fromEnvironment, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path,
            environment: ["OMS_SESSION_HOURS": "4", "OMS_LEAFLET_DIR": "/srv/leaflet", "OMS_MAP_TILES": "http://tiles.local/{z}/{x}/{y}.png"])
        #expect(fromEnvironment.console.sessionHours == 4 && fromEnvironment.console.leafletDirectory == "/srv/leaflet")
        #expect(fromEnvironment.console.tileURL == "http://tiles.local/{z}/{x}/{y}.png")
        let (fromFlags, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, console: .init(sessionHours: 2, leafletDirectory: "/l", mapTiles: "", mapAttribution: nil),
            databaseURL: nil, configFile: path, environment: ["OMS_SESSION_HOURS": "4"])
        #expect(fromFlags.console.sessionHours == 2 && fromFlags.console.leafletDirectory == "/l" && fromFlags.console.tileURL == "")
        let (defaults, _) = try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil, environment: [:])
        #expect(defaults.console.sessionHours == 12 && defaults.console.leafletDirectory == "/usr/share/javascript/leaflet")
        #expect(defaults.console.tileURL == "")
        for (environment, refusal) in [(["OMS_SESSION_HOURS": "0"], "session hours 0"), (["OMS_SESSION_HOURS": "a day"], "not a number of hours"),
                                       (["OMS_MAP_TILES": "ftp://x/{z}"], "not an http(s) URL template")] {
            #expect {
                try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil, environment: environment)
            } throws: { "\($0)".contains(refusal) }
        }
    }

    @Test("TLS: the certificate and key each from its flag, else OMS_TLS_CERT / OMS_TLS_KEY, else the file; default plain HTTP")
    func tls() throws {
        let path = try file(#"{"tls_cert": "/file/cert.pem", "tls_key": "/file/key.pem"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (fromFile, _) = try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path, environment: [:])
        #expect(fromFile.tls == TLSFiles(certificatePath: "/file/cert.pem", keyPath: "/file/key.pem"))
        let (fromEnvironment, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path,
            environment: ["OMS_TLS_CERT": "/env/cert.pem", "OMS_TLS_KEY": "/env/key.pem"])
        #expect(fromEnvironment.tls == TLSFiles(certificatePath: "/env/cert.pem", keyPath: "/env/key.pem"))
        let (fromFlags, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, tls: .init(certificate: "/flag/cert.pem", key: "/flag/key.pem"), databaseURL: nil,
            configFile: path, environment: ["OMS_TLS_CERT": "/env/cert.pem", "OMS_TLS_KEY": "/env/key.pem"])
        #expect(fromFlags.tls == TLSFiles(certificatePath: "/flag/cert.pem", keyPath: "/flag/key.pem"))
        // Each of the two by its own precedence: the certificate by flag, the key from the file.
        let (mixed, _) = try ServeCommand.resolve(
            host: nil, port: nil, maxBodyBytes: nil, tls: .init(certificate: "/flag/cert.pem"), databaseURL: nil, configFile: path,
            environment: [:])
        #expect(mixed.tls == TLSFiles(certificatePath: "/flag/cert.pem", keyPath: "/file/key.pem"))
        let (defaults, _) = try ServeCommand.resolve(host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: nil, environment: [:])
        #expect(defaults.tls == nil)
        // The flags as the command line gives them.
        let command = try ServeCommand.parse(["--tls-cert", "/c.pem", "--tls-key", "/k.pem"])
        #expect(command.tlsCertificate == "/c.pem" && command.tlsKey == "/k.pem")
    }

    @Test("TLS: a certificate without a key, or a key without a certificate, is refused naming both options", arguments: [
        (ServeCommand.TLSFlags(certificate: "/c.pem"), [String: String](), "--tls-cert /c.pem needs --tls-key"),
        (ServeCommand.TLSFlags(key: "/k.pem"), [:], "--tls-key /k.pem needs --tls-cert"),
        (ServeCommand.TLSFlags(), ["OMS_TLS_CERT": "/env.pem"], "--tls-cert /env.pem needs --tls-key (OMS_TLS_KEY"),
        (ServeCommand.TLSFlags(), ["OMS_TLS_KEY": "/env.key"], "--tls-key /env.key needs --tls-cert (OMS_TLS_CERT"),
    ])
    func tlsHalf(flags: ServeCommand.TLSFlags, environment: [String: String], message: String) throws {
        #expect {
            _ = try ServeCommand.resolve(
                host: nil, port: nil, maxBodyBytes: nil, tls: flags, databaseURL: nil, configFile: nil, environment: environment)
        } throws: { error in
            String(describing: error).contains(message) && String(describing: error).contains("give both or neither")
        }
    }

    @Test("a config file with an unknown setting or a wrong type, or a bad variable, is refused by name", arguments: [
        (#"{"prot": 80}"#, [:], #"unknown setting "prot""#),
        (#"{"port": "eighty"}"#, [:], "port: wrong type"),
        ("[1, 2]", [:], "not a JSON object"),
        (#"{"port": 70000}"#, [:], "port 70000"),
        ("{}", ["OMS_PORT": "http"], "OMS_PORT=http"),
        (#"{"idle_timeout": 0}"#, [:], "idle timeout 0"),
        (#"{"stream_buffer_events": 0}"#, [:], "stream buffer 0"),
        ("{}", ["OMS_BODY_READ_TIMEOUT": "soon"], "OMS_BODY_READ_TIMEOUT=soon"),
        ("{}", ["OMS_BODY_READ_TIMEOUT": "-3"], "body read timeout -3"),
        (#"{"tls_cert": 443}"#, [:], "tls_cert: wrong type"),
        (#"{"tls_key": "/k.pem"}"#, [:], "--tls-key /k.pem needs --tls-cert"),
        (#"{"tls_certificate": "/c.pem"}"#, [:], #"unknown setting "tls_certificate""#),
    ])
    func refusals(text: String, environment: [String: String], message: String) throws {
        let path = try file(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try ServeCommand.resolve(
                host: nil, port: nil, maxBodyBytes: nil, databaseURL: nil, configFile: path, environment: environment)
        } throws: { error in
            String(describing: error).contains(message)
        }
    }
}
