import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1

/// What carries a `WebDriver` session's commands: chromedriver (W3C WebDriver over HTTP) or
/// Firefox's Marionette (`Marionette`), each taking the W3C method and path.
protocol BrowserDriver: Sendable {
    /// One WebDriver command; its `value`, or a `WebDriverError` with the browser's message.
    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]?, timeout: Duration) async throws -> Any?
}

extension BrowserDriver {
    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try await call(method, path, body, timeout: .seconds(60))
    }
}

/// The browsers the console is tested in (Debian's packages).
enum Browser: String, Sendable, CaseIterable, CustomStringConvertible {
    case chromium, firefox
    var description: String { rawValue }
}

/// Opens headless browsers of one kind, each with its own profile (its own cookies): Chromium
/// sessions through one chromedriver, Firefox as one process per session (Marionette).
final class Browsers: Sendable {
    let browser: Browser
    let chromedriver: WebDriver.Driver?

    private init(browser: Browser, chromedriver: WebDriver.Driver?) {
        self.browser = browser
        self.chromedriver = chromedriver
    }

    static func start(_ browser: Browser) async throws -> Browsers {
        switch browser {
        case .chromium: return Browsers(browser: browser, chromedriver: try await WebDriver.Driver.start())
        case .firefox: return Browsers(browser: browser, chromedriver: nil)
        }
    }

    /// A new browser with one session.
    func open() async throws -> WebDriver {
        if let chromedriver { return try await WebDriver(chromedriver) }
        return try await WebDriver(firefox: try await Marionette.start())
    }

    /// Ends chromedriver (each Firefox ends with its session: `WebDriver.quit`).
    func stop() async {
        await chromedriver?.stop()
    }
}

/// A W3C WebDriver session on a headless browser: Chromium driven over HTTP+JSON by chromedriver
/// (Debian's chromium-driver), which starts the browser, or Firefox through `Marionette`. Each
/// `WebDriver` is one browser with its own profile (its own cookies). `.ci/run` installs chromium,
/// chromium-driver and firefox-esr when they are missing. Used by the console's browser tests and
/// `oms bench console`.
final class WebDriver: Sendable {
    /// Where Debian puts the two programs.
    static let chromedriver = "/usr/bin/chromedriver"
    static let chromium = "/usr/bin/chromium"

    /// chromedriver's process and address, shared by the sessions of a test.
    final class Driver: BrowserDriver {
        let process: Process
        let base: String
        let http: HTTPClient

        init(process: Process, base: String, http: HTTPClient) {
            self.process = process
            self.base = base
            self.http = http
        }

        /// Starts chromedriver on a free port and waits until it is ready.
        static func start() async throws -> Driver {
            guard FileManager.default.isExecutableFile(atPath: WebDriver.chromedriver),
                  FileManager.default.isExecutableFile(atPath: WebDriver.chromium)
            else {
                throw WebDriverError("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver; .ci/run does)")
            }
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            for attempt in 0..<5 {
                let port = Int.random(in: 20_000...60_000)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: WebDriver.chromedriver)
                process.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let driver = Driver(process: process, base: "http://127.0.0.1:\(port)", http: http)
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline, process.isRunning {
                    if let status = try? await driver.call("GET", "/status") as? [String: Any], (status["ready"] as? Bool) == true { return driver }
                    try await Task.sleep(for: .milliseconds(100))
                }
                process.terminate()
                if attempt == 4 { break }
            }
            try await http.shutdown()
            throw WebDriverError("chromedriver did not start")
        }

        /// One WebDriver command; its `value`, or a `WebDriverError` with the driver's message.
        @discardableResult
        func call(_ method: String, _ path: String, _ body: [String: Any]?, timeout: Duration) async throws -> Any? {
            var request = HTTPClientRequest(url: base + path)
            request.method = .RAW(value: method)
            request.headers.add(name: "Content-Type", value: "application/json")
            if let body { request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))) }
            let response = try await http.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
            let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
            let object = try JSONSerialization.jsonObject(with: Data(bytes.readableBytesView), options: [.fragmentsAllowed]) as? [String: Any]
            let value = object?["value"]
            if response.status.code >= 400 {
                let message = (value as? [String: Any])?["message"] as? String ?? "\(response.status)"
                throw WebDriverError("\(method) \(path): \(message.prefix(500))")
            }
            return value
        }

        /// Ends chromedriver (SIGKILL: it does not always end on SIGTERM while browsers hang on it).
        func stop() async {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
            try? await http.shutdown()
        }
    }

    let driver: any BrowserDriver
    let session: String
    /// Firefox: the browser of this session alone, ended with it.
    let firefox: Marionette?

    /// A new headless Firefox session (the browser started by `Marionette.start`, 1400x900).
    init(firefox: Marionette) async throws {
        self.driver = firefox
        self.firefox = firefox
        do {
            let value = try await firefox.call("POST", "/session", ["capabilities": ["alwaysMatch": ["acceptInsecureCerts": true]]])
            guard let session = (value as? [String: Any])?["sessionId"] as? String else {
                throw WebDriverError("no session: \(String(describing: value))")
            }
            self.session = session
        } catch {
            await firefox.stop()
            throw error
        }
    }

    /// A new headless Chromium (1400x900, no sandbox: the tests run as root in CI).
    init(_ driver: Driver) async throws {
        self.driver = driver
        self.firefox = nil
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": WebDriver.chromium,
                        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--window-size=1400,900", "--force-device-scale-factor=1", "--lang=en-US"],
                    ],
                    "goog:loggingPrefs": ["browser": "ALL"],
                ] as [String: Any],
            ],
        ]
        let value = try await driver.call("POST", "/session", capabilities, timeout: .seconds(120)) as? [String: Any]
        guard let session = value?["sessionId"] as? String else { throw WebDriverError("no session: \(String(describing: value))") }
        self.session = session
    }

    func quit() async {
        _ = try? await driver.call("DELETE", "/session/\(session)")
        await firefox?.stop()
    }

    func go(_ url: String) async throws {
        try await driver.call("POST", "/session/\(session)/url", ["url": url])
    }

    /// The element matching a CSS selector (the first).
    func element(_ css: String) async throws -> String {
        let value = try await driver.call("POST", "/session/\(session)/element", ["using": "css selector", "value": css])
        guard let element = (value as? [String: Any])?.values.first as? String else { throw WebDriverError("no element \(css)") }
        return element
    }

    func type(_ css: String, _ text: String) async throws {
        let element = try await element(css)
        try await driver.call("POST", "/session/\(session)/element/\(element)/clear", [:])
        try await driver.call("POST", "/session/\(session)/element/\(element)/value", ["text": text])
    }

    /// Focuses the element and presses Enter on it, as a keyboard user does.
    func pressEnter(_ css: String) async throws {
        let element = try await element(css)
        try await script("arguments[0].focus();", [["element-6066-11e4-a52e-4f735466cecf": element]])
        try await driver.call("POST", "/session/\(session)/element/\(element)/value", ["text": "\u{E007}"])
    }

    func click(_ css: String) async throws {
        try await driver.call("POST", "/session/\(session)/element/\(try await element(css))/click", [:])
    }

    /// Runs `script` (a function body) in the page; its return value.
    @discardableResult
    func script(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await driver.call("POST", "/session/\(session)/execute/sync", ["script": script, "args": arguments])
    }

    /// Runs `script` (a function body whose last argument is the callback) and waits for its answer.
    func asyncScript(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await driver.call("POST", "/session/\(session)/execute/async", ["script": script, "args": arguments])
    }

    /// Waits until `condition` (a JavaScript expression) is true in the page; how long it took.
    @discardableResult
    func waitUntil(_ condition: String, timeout: Duration = .seconds(20), _ what: String) async throws -> Duration {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if (try? await script("return Boolean(\(condition));")) as? Bool == true { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(50))
        }
        let logs = (try? await driver.call("POST", "/session/\(session)/se/log", ["type": "browser"])) ?? []
        throw WebDriverError("timed out after \(timeout) waiting for \(what) (\(condition)); browser log: \(String(describing: logs).prefix(1500))")
    }

    /// Saves a PNG of the window.
    func screenshot(to path: String) async throws {
        guard let base64 = try await driver.call("GET", "/session/\(session)/screenshot") as? String,
              let data = Data(base64Encoded: base64)
        else { throw WebDriverError("no screenshot") }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// The browser's console messages of level SEVERE (Chromium), or its page errors and
    /// `console.error` messages (Firefox).
    func severeErrors() async throws -> [String] {
        if let firefox { return firefox.errors() }
        let entries = try await driver.call("POST", "/session/\(session)/se/log", ["type": "browser"]) as? [[String: Any]] ?? []
        return entries.filter { ($0["level"] as? String) == "SEVERE" }.compactMap { $0["message"] as? String }
    }
}

/// What went wrong with the browser or its driver.
struct WebDriverError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
