import Foundation
import Logging
import OMSDomain
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI
@testable import OMSHTTP

/// The operator console in real browsers (headless Chromium through chromedriver, headless Firefox
/// through Marionette) against a real `oms serve` (the command's own `serve`) on a real database
/// holding a replayed storm. Screenshots go to `.ci/artifacts/console/BROWSER/` (or
/// `$OMS_ARTIFACTS_DIR/console/BROWSER/`).
@Suite("The operator console in a real browser", .serialized)
struct ConsoleBrowserTests: RunsOMSCommands {
    /// Where the screenshots are kept (CI keeps `.ci/artifacts`).
    static var artifacts: String {
        if let dir = ProcessInfo.processInfo.environment["OMS_ARTIFACTS_DIR"], !dir.isEmpty { return dir + "/console" }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".ci/artifacts/console").path
    }

    /// A storm on a small simulated network, replayed through the server's feed API: outages
    /// that are still active (their restorations lie in the future and are not sent).
    func replayStorm(folder: String, url: String, base: String, ingestKey: String) async throws {
        try await run(["simulate", "network", "--substations", "3", "--feeders-per-substation", "3",
                       "--dps-per-feeder", "5", "--meters", "900", "--seed", "16", "--out", "\(folder)/net"])
        try await run(["import", "\(folder)/net", "--database-url", url])
        let start = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-40 * 60))
        try await run(["simulate", "scenario", "--network", "\(folder)/net", "--kind", "storm", "--seed", "16",
                       "--start", start, "--duration-minutes", "30", "--failed-dps", "3", "--failed-feeders", "2",
                       "--failed-substations", "0", "--momentary-share", "0", "--restoration-minutes", "600-700",
                       "--out", "\(folder)/storm"])
        // Only what has happened by now: the restorations, hours ahead, are not sent.
        let lines = try String(contentsOfFile: "\(folder)/storm/events.jsonl", encoding: .utf8).split(separator: "\n")
        let now = Date()
        let past = try lines.filter { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let at = (object?["deliverAt"] as? String).flatMap(ISO8601Time.parse)
            return at.map { $0 <= now } ?? true
        }
        #expect(past.count > 0 && past.count < lines.count, "the storm's past and future: \(past.count) of \(lines.count) messages")
        try (past.joined(separator: "\n") + "\n").write(toFile: "\(folder)/past.jsonl", atomically: true, encoding: .utf8)
        try await run(["replay", "\(folder)/past.jsonl", "--url", base, "--key", ingestKey])
    }

    @Test("sign-in refused and accepted; a replayed storm on the list and the map; an outage's page; actions in one page seen live in another; a read key's limits",
          arguments: Browser.allCases)
    func console(browser: Browser) async throws {
        let browsers = try await Browsers.start(browser)
        let artifacts = Self.artifacts + "/\(browser)"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("oms-console-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                let keys = APIKeyStore(client: database.client, logger: TestDatabase.logger)
                let admin = try await keys.create(scopes: [.admin], name: "replay").key
                let operatorKey = try await keys.create(scopes: [.read, .operate], name: "desk 1").key
                let readKey = try await keys.create(scopes: [.read], name: "viewer").key

                var settings = ServerSettings(host: "127.0.0.1", port: 0, migrateOnStart: false)
                settings.console.sessionHours = 1
                let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
                let server = Task {
                    try await serve(configuration: database.configuration, settings: settings, logger: TestDatabase.logger) { port in
                        portSink.yield(port)
                    }
                }
                defer { server.cancel() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                let base = "http://127.0.0.1:\(port)"

                try await replayStorm(folder: folder, url: url, base: base, ingestKey: admin)
                let active = try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_outage_events WHERE status NOT IN ('restored', 'closed', 'cancelled', 'merged')", as: Int.self)
                #expect(active >= 2, "the storm left outages open")

                let desk = try await browsers.open()
                let viewer = try await browsers.open()

                // Sign-in: a bad key is refused with a message, a good one opens the console.
                try await desk.go(base + "/")
                try await desk.waitUntil("!document.getElementById('sign-in-view').hidden", "the sign-in form")
                try await desk.type("#key", "oms_thisIsNotAKeyOfThisServiceAtAllReally000")
                try await desk.click("#sign-in-button")
                try await desk.waitUntil("document.getElementById('sign-in-error').textContent.includes('refused')", "the refusal")
                #expect(try await desk.script("return document.getElementById('console-view').hidden;") as? Bool == true)
                try await desk.type("#key", operatorKey)
                try await desk.click("#sign-in-button")
                try await desk.waitUntil("!document.getElementById('console-view').hidden", "the console after sign-in")
                // The key is in no storage of the page, and the cookie is not readable by script.
                #expect(try await desk.script("return localStorage.length + sessionStorage.length;") as? Int == 0)
                #expect(try await desk.script("return document.cookie;") as? String == "")

                // The replayed storm's outages: every active one on the list and on the map.
                try await desk.waitUntil(
                    "document.querySelectorAll('#outage-table tbody tr').length === \(active)", "\(active) outages on the list")
                try await desk.waitUntil(
                    "Number(document.getElementById('map').dataset.outagesDrawn) >= \(active)", "the outages on the map")
                try await desk.waitUntil("document.getElementById('connection').classList.contains('live')", "the live stream")
                try await desk.screenshot(to: artifacts + "/map.png")

                // The viewer (read only): signs in, sees the list, no action buttons.
                try await viewer.go(base + "/")
                try await viewer.waitUntil("!document.getElementById('sign-in-view').hidden", "the sign-in form")
                try await viewer.type("#key", readKey)
                try await viewer.click("#sign-in-button")
                try await viewer.waitUntil(
                    "document.querySelectorAll('#outage-table tbody tr').length === \(active)", "the viewer's list")
                try await viewer.waitUntil("document.getElementById('connection').classList.contains('live')", "the viewer's stream")
                try await viewer.script("window.__notReloaded = true;")

                // The desk opens the outage with the most customers out, by keyboard (Enter on its row):
                // its page has a timeline.
                let target = try #require(try await desk.script(
                    "return document.querySelector('#outage-table tbody tr').dataset.id;") as? String)
                try await desk.pressEnter("#outage-table tbody tr")
                try await desk.waitUntil(
                    "!document.getElementById('outage').hidden && document.getElementById('outage-title').textContent.includes('\(target)')"
                        + " && document.querySelectorAll('#outage-timeline li').length > 0", "the outage's page with its timeline")
                try await desk.screenshot(to: artifacts + "/outage.png")

                // The viewer's page of the same outage has no actions, and a forged action is refused.
                try await viewer.script("location.hash = '#/outage/' + encodeURIComponent(arguments[0]);", [target])
                try await viewer.waitUntil("!document.getElementById('outage').hidden", "the viewer's outage page")
                #expect(try await viewer.script("return document.getElementById('actions').hidden;") as? Bool == true)
                let forged = try await viewer.asyncScript("""
                    const done = arguments[arguments.length - 1];
                    (async () => {
                      const session = await (await fetch('/api/v1/console/session')).json();
                      const act = (headers) => fetch('/api/v1/outages/' + encodeURIComponent(arguments[0]) + '/actions',
                        {method: 'POST', headers: Object.assign({'Content-Type': 'application/json'}, headers),
                         body: JSON.stringify({action: 'acknowledge'})}).then((r) => r.status);
                      done([await act({'X-CSRF-Token': session.csrf_token}), await act({})]);
                    })().catch((e) => done(String(e)));
                    """, [target]) as? [Int]
                #expect(forged == [403, 403], "a read session's action with and without the CSRF token: \(String(describing: forged))")
                // The desk's session without the CSRF token is refused too.
                let noToken = try await desk.asyncScript("""
                    const done = arguments[arguments.length - 1];
                    fetch('/api/v1/outages/' + encodeURIComponent(arguments[0]) + '/actions', {method: 'POST',
                      headers: {'Content-Type': 'application/json'}, body: JSON.stringify({action: 'acknowledge'})})
                      .then((r) => done(r.status), (e) => done(String(e)));
                    """, [target]) as? Int
                #expect(noToken == 403)
                #expect(try await database.client.scalar(
                    "SELECT acknowledged_at IS NULL FROM oms_outage_events WHERE event_id = \(target)", as: Bool.self))

                // Assign a crew in the desk's page: the database has it, the viewer's page shows it
                // through the stream, without a reload.
                try await desk.type("#act-crew", "Crew 7")
                try await desk.click("[data-action=assign]")
                try await desk.waitUntil("document.getElementById('action-result').textContent.startsWith('Done')", "the assignment")
                #expect(try await database.client.scalar(
                    "SELECT crew || ' ' || status FROM oms_outage_events WHERE event_id = \(target)", as: String.self) == "Crew 7 in_progress")
                let seen = try await viewer.waitUntil("""
                    [...document.querySelectorAll('#outage-table tbody tr')].some((r) => r.dataset.id === '\(target)' && r.textContent.includes('Crew 7'))
                    """, "the crew on the viewer's list")
                let timeline = try await database.client.scalar(
                    "SELECT count(*)::int FROM oms_event_timeline t JOIN oms_outage_events o ON o.id = t.outage_event_id WHERE o.event_id = \(target)",
                    as: Int.self)
                try await viewer.waitUntil(
                    "document.querySelectorAll('#outage-timeline li').length === \(timeline)", "the viewer's timeline updated")

                // Confirm a predicted or detected outage, if the storm left one.
                let unconfirmed = try await database.client.fetch(
                    "SELECT event_id FROM oms_outage_events WHERE status IN ('predicted', 'detected') ORDER BY event_id LIMIT 1",
                    logger: TestDatabase.logger
                ).decode(String.self).first
                if let unconfirmed {
                    try await desk.script("location.hash = '#/outage/' + encodeURIComponent(arguments[0]);", [unconfirmed])
                    try await desk.waitUntil(
                        "document.getElementById('outage-title').textContent.includes('\(unconfirmed)') && !document.querySelector('[data-action=confirm]').disabled",
                        "the confirm button")
                    try await desk.click("[data-action=confirm]")
                    try await desk.waitUntil("document.getElementById('action-result').textContent.startsWith('Done')", "the confirmation")
                    #expect(try await database.client.scalar(
                        "SELECT status FROM oms_outage_events WHERE event_id = \(unconfirmed)", as: String.self) == "confirmed")
                    try await viewer.waitUntil("""
                        [...document.querySelectorAll('#outage-table tbody tr')].some((r) => r.dataset.id === '\(unconfirmed)' && r.textContent.includes('CNF'))
                        """, "the confirmation on the viewer's list")
                }

                // Restore the first outage: it leaves the active list in both pages.
                try await desk.script("location.hash = '#/outage/' + encodeURIComponent(arguments[0]);", [target])
                try await desk.waitUntil(
                    "document.getElementById('outage-title').textContent.includes('\(target)') && !document.querySelector('[data-action=restore]').disabled",
                    "the restore button")
                try await desk.click("[data-action=restore]")
                try await desk.waitUntil("document.getElementById('action-result').textContent.startsWith('Done')", "the restoration")
                #expect(try await database.client.scalar(
                    "SELECT status FROM oms_outage_events WHERE event_id = \(target)", as: String.self) == "restored")
                try await viewer.waitUntil(
                    "![...document.querySelectorAll('#outage-table tbody tr')].some((r) => r.dataset.id === '\(target)')",
                    "the restored outage off the viewer's active list")
                #expect(try await viewer.script("return window.__notReloaded === true;") as? Bool == true, "the viewer's page was never reloaded")
                print("console (\(browser)): the crew reached the second page \(seen) after the action's answer")

                // Reliability: the indices and the daily chart for the storm's day.
                try await desk.script("location.hash = '';")
                try await desk.waitUntil("document.getElementById('outage').hidden", "the outage page closed")
                try await desk.click("#tab-reliability")
                try await desk.waitUntil("document.querySelectorAll('#rel-indices dd').length === 4", "the reliability indices")
                try await desk.waitUntil("document.querySelectorAll('#rel-chart rect').length >= 28", "the daily SAIDI chart")
                try await desk.screenshot(to: artifacts + "/reliability.png")

                // Sign-out ends the session: the cookie no longer opens the API.
                try await viewer.click("#sign-out")
                try await viewer.waitUntil("!document.getElementById('sign-in-view').hidden", "the sign-in form after sign-out")
                let after = try await viewer.asyncScript("""
                    const done = arguments[arguments.length - 1];
                    fetch('/api/v1/console/summary').then((r) => done(r.status), (e) => done(String(e)));
                    """) as? Int
                #expect(after == 401)

                let unexpected = try await desk.severeErrors().filter { !$0.contains(" 401 ") && !$0.contains(" 403 ") }
                #expect(unexpected.isEmpty, "the desk's browser console: \(unexpected)")
                await desk.quit()
                await viewer.quit()
            }
        } catch {
            await browsers.stop()
            throw error
        }
        await browsers.stop()
    }
}
