import ArgumentParser
import Foundation
import OMSDomain
import OMSFeeds
import OMSHTTP
import OMSStore
import PostgresNIO

/// `oms demo`: the whole thing on the embedded default, from nothing.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start the managed database, migrate, load a sample network, replay a breaker trip and the other feeds' evidence, then serve the API.",
        discussion: """
            The demo uses a database of its own (oms_demo), recreated on every run, so it never touches \
            the data of `oms migrate` / `oms serve`. With --database-url it refuses a database that already holds meters.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Flag(name: .customLong("no-serve"), help: "Exit after printing instead of serving the API.")
    var noServe = false

    @Option(help: "Port for the API.")
    var port: Int = 8080

    static let databaseName = "oms_demo"

    func run() async throws {
        let logger = database.makeLogger()
        let serveAfterwards = !noServe
        let port = port
        let isManaged = database.explicitURL == nil
        try await database.withDatabase(database: Self.databaseName, logger: logger) { configuration, description in
            try await DatabaseBootstrap.withClient(configuration, logger: logger) { client in
                if isManaged {
                    try await DatabaseReset(client: client, logger: logger).recreatePublicSchema()
                }
                let summary = try await MigrationRunner.bundled(logger: logger).migrate(client)
                print("database  \(description)")
                print("schema    version \(summary.schemaVersion)")
                let count = try await DemoStore(client: client, logger: logger).meterCount()
                if count > 0 {
                    throw ValidationError("the demo loads a sample network and needs an empty registry; this one holds \(count) meters")
                }
                try await SampleNetwork.load(into: client, logger: logger)
                try await printReport(client: client, logger: logger)
                try await replayBreakerTrip(client: client, logger: logger)
                try await replayMeterEvidence(client: client, logger: logger)
                let (_, key) = try await APIKeyStore(client: client, logger: logger).create(scopes: [.admin], name: "oms demo")
                print("\nAPI key (admin, made for this demo; oms keys create makes narrower ones):\n  \(key)")
                print("  curl -H 'Authorization: Bearer \(key)' http://127.0.0.1:\(port)/api/v1/feeders/FD002/meters")
            }
            if serveAfterwards {
                print("\nserving the API on http://127.0.0.1:\(port) (GET /health open; /api/v1 needs the key); Ctrl-C stops")
                print("operator console: http://127.0.0.1:\(port)/ (sign in with the key above)")
                try await serve(
                    configuration: configuration, settings: ServerSettings(port: port, migrateOnStart: false),
                    logger: logger)
            }
        }
    }

    func printReport(client: PostgresClient, logger: Logger) async throws {
        print("\nSample network loaded: network_substations_with_meters")
        var table = TextTable(columns: ["substation", "name", "feeders", "meters", "online", "offline", "unknown"])
        for s in try await DemoStore(client: client, logger: logger).substationsWithMeters() {
            table.append([s.substationID, s.name ?? "", "\(s.feederCount)", "\(s.totalMeters)", "\(s.onlineMeters)",
                          "\(s.offlineMeters)", "\(s.unknownMeters)"])
        }
        print(table.render())

        print("\nValidation checklist")
        for check in try await SchemaInspector(client: client, logger: logger).validationReport() {
            print("  \(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)")
        }
    }

    /// A breaker trip on feeder FD002 of substation SS001, now, through the same
    /// decoder and SQL function as `POST /api/v1/scada/events`.
    func replayBreakerTrip(client: PostgresClient, logger: Logger) async throws {
        let now = ISO8601DateFormatter().string(from: Date())
        let message = """
            {"event": {"eventId": "DEMO-TRIP-\(now)", "eventType": "breaker_trip", "substationId": "SS001",
             "feederId": "FD002", "mainStationId": "MS01", "timestamp": "\(now)", "voltage": 0.0,
             "alarmType": "fault", "severity": "critical", "reason": "Phase-to-ground fault",
             "coordinates": {"lat": 39.9526, "lng": -75.1552}},
             "source": "oms-demo", "received_at": "\(now)"}
            """
        print("\nReplaying a SCADA breaker trip: SS001 / FD002 at \(now)")
        let outcomes = try await FeedIngestor(.scada, client: client, logger: logger).ingest(body: Array(message.utf8))
        guard case .applied(let summary)? = outcomes.first else {
            throw ValidationError("the demo's breaker trip was not applied: \(outcomes)")
        }
        var checked = TextTable(columns: ["meters checked", "offline", "online", "unknown", "outage"])
        checked.append(["\(summary.totalMeters)", "\(summary.offlineMeters)", "\(summary.onlineMeters)",
                        "\(summary.unknownMeters)", summary.outageEventCode ?? "none"])
        print(checked.render())

        try await printOutages(client: client, logger: logger)
    }

    /// What the other three feeds then say about meters of FD002: a smart meter's last gasp (the
    /// head-end's SOAP XML), an ONU's dying gasp, a customer's call. Each joins the same outage.
    func replayMeterEvidence(client: PostgresClient, logger: Logger) async throws {
        let formatter = ISO8601DateFormatter()
        let time = { (seconds: Double) in formatter.string(from: Date().addingTimeInterval(seconds)) }
        let store = DemoStore(client: client, logger: logger)
        let asset = try await store.assetMRID(meterNumber: "M10000304") ?? ""
        let kaifa = """
            <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
            <ns0:CreatedEndDeviceEvents xmlns:ns0="http://iec.ch/TC57/2011/schema/message" xmlns:ns2="http://iec.ch/TC57/2011/EndDeviceEvents#">
            <ns0:Header><ns0:Verb>created</ns0:Verb><ns0:Noun>EndDeviceEvents</ns0:Noun><ns0:Source>KAIFA-HES</ns0:Source></ns0:Header>
            <ns0:Payload><ns2:EndDeviceEvents><ns2:EndDeviceEvent><ns2:mRID>DEMO-LG-\(time(0))</ns2:mRID>
            <ns2:createdDateTime>\(time(2))</ns2:createdDateTime><ns2:Assets><ns2:mRID>\(asset)</ns2:mRID></ns2:Assets>
            <ns2:EndDeviceEventType ref="3.26.136.47"/></ns2:EndDeviceEvent></ns2:EndDeviceEvents></ns0:Payload>
            </ns0:CreatedEndDeviceEvents></soapenv:Body></soapenv:Envelope>
            """
        let onu = #"{"type": "ONU_LastGaspAlert", "eventId": "DEMO-DG-\#(time(0))", "onuId": "ONU-000303", "onuSerial": "HWTC0000012F", "timestamp": "\#(time(3))", "alarmData": {"alarmName": "DGi"}}"#
        let call = #"{"ticketId": "DEMO-CC-\#(time(0))", "timestamp": "\#(time(4))", "customer": {"phone": "+1 215 555 0306", "meterNumber": "m-1000 0306"}, "troubleCode": "power_down", "notes": "No lights"}"#

        print("\nThe other feeds about meters of FD002 (KAIFA last gasp as SOAP XML, ONU dying gasp, a call)")
        var table = TextTable(columns: ["feed", "meters", "outage", "status", "confidence", "sources"])
        func record(_ feed: String, _ outcomes: [IngestOutcome<MeterSyncSummary>]) async throws {
            guard case .applied(let summary)? = outcomes.first else {
                throw ValidationError("the demo's \(feed) message was not applied: \(outcomes)")
            }
            if let state = try await store.activeOutageState(id: summary.outageEventIDs.first) {
                table.append([feed, summary.meterNumbers.joined(separator: ", "), state.eventID, state.status, state.confidence,
                              state.sourceTypes])
            }
        }
        try await record("kaifa", try await FeedIngestor(.kaifa, client: client, logger: logger).ingest(body: Array(kaifa.utf8)))
        try await record("onu", try await FeedIngestor(.onu, client: client, logger: logger).ingest(body: Array(onu.utf8)))
        try await record("call_center", try await FeedIngestor(.callCenter, client: client, logger: logger).ingest(body: Array(call.utf8)))
        print(table.render())
        try await printOutages(client: client, logger: logger)
    }

    func printOutages(client: PostgresClient, logger: Logger) async throws {
        print("\nOutage (oms_active_outages)")
        var outages = TextTable(columns: ["event_id", "status", "confidence", "meters", "customers", "substation",
                                          "feeder", "root cause", "sources"])
        for o in try await DemoStore(client: client, logger: logger).activeOutages() {
            outages.append([o.eventID, o.status, o.confidence, "\(o.affectedMeters)", "\(o.affectedCustomers)",
                            o.substationCode ?? "", o.feederCode ?? "", o.rootCause ?? "", "\(o.sourceCount)"])
        }
        print(outages.render())
    }
}
