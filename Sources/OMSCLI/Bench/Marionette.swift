import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Headless Firefox (Debian's firefox-esr) driven through Marionette, the remote protocol built into
/// Firefox (what geckodriver speaks to it, and geckodriver is not packaged): a TCP connection
/// carrying `length:JSON` frames, `[0, id, "WebDriver:Command", parameters]` answered by
/// `[1, id, error, result]`. Its commands are W3C WebDriver's, so `call` takes the W3C method
/// and path that `WebDriver` sends to chromedriver and sends the matching command. One browser
/// (own process, own profile, own cookies) per session; its JavaScript errors and console messages
/// go to the process's output (`devtools.console.stdout.content`), kept in a file for `errors()`.
final class Marionette: BrowserDriver, @unchecked Sendable {
    /// Where Debian puts Firefox.
    static let firefox = "/usr/bin/firefox-esr"

    let process: Process
    let profile: String
    /// The socket (file descriptor) of the Marionette connection; one command at a time (`lock`).
    private let socket: Int32
    private let lock = NSLock()
    private var nextID = 0

    private init(process: Process, profile: String, socket: Int32) {
        self.process = process
        self.profile = profile
        self.socket = socket
    }

    /// Starts a headless Firefox (1400x900) with a fresh profile, and connects to it.
    static func start() async throws -> Marionette {
        guard FileManager.default.isExecutableFile(atPath: firefox) else {
            throw WebDriverError("firefox-esr is not installed (apt-get install firefox-esr; .ci/run does)")
        }
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...60_000)
            let profile = FileManager.default.temporaryDirectory.appendingPathComponent("oms-firefox-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
            let preferences = [
                "marionette.port": "\(port)",
                // Console messages and page errors to the process's output (read by `errors()`).
                "devtools.console.stdout.content": "true",
                "devtools.console.stdout.chrome": "false",
                // No experiments, studies or remote settings fetched (offline, and their errors are not the page's).
                "messaging-system.rsexperimentloader.enabled": "false",
                "app.normandy.enabled": "false",
                "browser.region.network.url": "\"\"",
                "browser.shell.checkDefaultBrowser": "false",
                "browser.startup.homepage_override.mstone": "\"ignore\"",
                "browser.aboutwelcome.enabled": "false",
                "datareporting.policy.dataSubmissionEnabled": "false",
                "toolkit.telemetry.reportingpolicy.firstRun": "false",
                "app.update.disabledForTesting": "true",
                "intl.accept_languages": "\"en-US\"",
            ]
            try preferences.map { "user_pref(\"\($0.key)\", \($0.value));" }.joined(separator: "\n")
                .write(toFile: profile + "/user.js", atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: firefox)
            process.arguments = ["--headless", "--marionette", "--no-remote", "--profile", profile]
            var environment = ProcessInfo.processInfo.environment
            environment["HOME"] = profile
            environment["MOZ_HEADLESS"] = "1"
            environment["MOZ_HEADLESS_WIDTH"] = "1400"
            environment["MOZ_HEADLESS_HEIGHT"] = "900"
            process.environment = environment
            FileManager.default.createFile(atPath: profile + "/output.log", contents: nil)
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: profile + "/output.log"))
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline, process.isRunning {
                if let socket = Self.connect(port: port) {
                    let marionette = Marionette(process: process, profile: profile, socket: socket)
                    // The greeting: {"applicationType": "gecko", "marionetteProtocol": 3}.
                    let greeted = (try? await marionette.onThread { _ = try marionette.readFrame(); return true }) ?? false
                    if greeted { return marionette }
                    close(socket)
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: profile)
        }
        throw WebDriverError("firefox did not start with Marionette")
    }

    /// A connection to 127.0.0.1:`port`, or nil.
    private static func connect(port: Int) -> Int32? {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        // A command answers within two minutes, or the browser is lost.
        var limit = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Runs blocking socket work on a thread of its own (not the concurrency pool's).
    private func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try work() })
            }
            thread.start()
        }
    }

    /// A JSON value handed from the socket's thread (JSONSerialization's objects are not Sendable).
    private struct Answer: @unchecked Sendable {
        let value: Any?
    }

    /// One frame: `length:JSON`.
    private func readFrame() throws -> Any {
        var length = 0
        var byte: UInt8 = 0
        while true {
            guard read(socket, &byte, 1) == 1 else { throw WebDriverError("Marionette: the connection ended") }
            if byte == UInt8(ascii: ":") { break }
            guard let digit = Int(String(UnicodeScalar(byte))) else { throw WebDriverError("Marionette: a frame's length is not a number") }
            length = length * 10 + digit
        }
        var data = [UInt8](repeating: 0, count: length)
        var got = 0
        while got < length {
            let n = data.withUnsafeMutableBytes { read(socket, $0.baseAddress! + got, length - got) }
            guard n > 0 else { throw WebDriverError("Marionette: the connection ended in a frame") }
            got += n
        }
        return try JSONSerialization.jsonObject(with: Data(data), options: [.fragmentsAllowed])
    }

    private func writeFrame(_ object: Any) throws {
        let json = try JSONSerialization.data(withJSONObject: object)
        let frame = Array("\(json.count):".utf8) + Array(json)
        var sent = 0
        while sent < frame.count {
            let n = frame.withUnsafeBytes { write(socket, $0.baseAddress! + sent, frame.count - sent) }
            guard n > 0 else { throw WebDriverError("Marionette: the connection ended") }
            sent += n
        }
    }

    /// One Marionette command; its result, or a `WebDriverError` with the browser's message.
    func command(_ name: String, _ parameters: [String: Any]) async throws -> Any? {
        let parameters = Answer(value: parameters)
        return try await onThread { [self] () throws -> Answer in
            lock.lock()
            defer { lock.unlock() }
            nextID += 1
            let id = nextID
            try writeFrame([0, id, name, parameters.value ?? [:]] as [Any])
            while true {
                guard let answer = try readFrame() as? [Any], answer.count == 4, answer[1] as? Int == id else { continue }
                if let error = answer[2] as? [String: Any] {
                    throw WebDriverError("\(name): \(error["error"] as? String ?? "error"): \(String((error["message"] as? String ?? "").prefix(500)))")
                }
                return Answer(value: answer[3] is NSNull ? nil : answer[3])
            }
        }.value
    }

    /// The W3C command `method path` (as chromedriver takes it) as the Marionette command it is.
    func call(_ method: String, _ path: String, _ body: [String: Any]?, timeout: Duration) async throws -> Any? {
        // /session, /session/{id}, /session/{id}/rest...
        let parts = path.split(separator: "/").map(String.init)
        let rest = Array(parts.dropFirst(2))
        let body = body ?? [:]
        let result: Any?
        switch (method, rest.first, rest.count) {
        case ("POST", nil, _) where parts.count == 1:
            result = try await command("WebDriver:NewSession", body)
        case ("DELETE", nil, _):
            result = try await command("WebDriver:DeleteSession", [:])
        case ("POST", "url", 1):
            result = try await command("WebDriver:Navigate", body)
        case ("POST", "element", 1):
            result = try await command("WebDriver:FindElement", body)
        case ("POST", "element", 3) where rest[2] == "clear":
            result = try await command("WebDriver:ElementClear", ["id": rest[1]])
        case ("POST", "element", 3) where rest[2] == "value":
            result = try await command("WebDriver:ElementSendKeys", ["id": rest[1], "text": body["text"] ?? ""])
        case ("POST", "element", 3) where rest[2] == "click":
            result = try await command("WebDriver:ElementClick", ["id": rest[1]])
        case ("POST", "execute", 2) where rest[1] == "sync":
            result = try await command("WebDriver:ExecuteScript", body)
        case ("POST", "execute", 2) where rest[1] == "async":
            result = try await command("WebDriver:ExecuteAsyncScript", body)
        case ("GET", "screenshot", 1):
            result = try await command("WebDriver:TakeScreenshot", ["full": false])
        case ("POST", "se", 2) where rest[1] == "log":
            // No browser log over Marionette: the process's output has it (`errors()`).
            return []
        default:
            throw WebDriverError("Marionette: no command for \(method) \(path)")
        }
        // Most answers are {"value": …}, as W3C WebDriver's; a new session's is the session itself.
        if let object = result as? [String: Any], object.count == 1, let value = object["value"] { return value is NSNull ? nil : value }
        return result
    }

    /// The pages' uncaught errors ("JavaScript error: http://…, line N: …") and `console.error`
    /// calls that Firefox wrote to its output. (A page's console message shows its arguments as
    /// values, a string in quotes: `console.error: "…"`; Firefox's own, e.g. "console.error:
    /// RSLoader: …", are not the page's.)
    func errors() -> [String] {
        let output = (try? String(contentsOfFile: profile + "/output.log", encoding: .utf8)) ?? ""
        return output.split(separator: "\n").map(String.init).filter {
            $0.hasPrefix("JavaScript error: http") || $0.hasPrefix("console.error: \"")
        }
    }

    /// Ends the browser (SIGKILL after a moment) and removes its profile.
    func stop() async {
        close(socket)
        if process.isRunning { process.terminate() }
        for _ in 0..<40 where process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        try? FileManager.default.removeItem(atPath: profile)
    }
}
