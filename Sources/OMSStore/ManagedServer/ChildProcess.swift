import CProcessSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts programs with `posix_spawn`, so that a long-running child (the
/// PostgreSQL server) is a direct child we can signal and reap, and inherits
/// none of our descriptors (Foundation's `Process` hangs when a descendant keeps
/// a watched descriptor open).
enum ChildProcess {
    /// Why a program could not be started.
    struct SpawnError: Error, CustomStringConvertible {
        let executable: String
        let code: Int32
        var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }

    /// Starts `executable` and returns its pid without waiting.
    ///
    /// - Parameters:
    ///   - outputFile: appended with the child's stdout and stderr (else /dev/null).
    ///   - workingDirectory: the child's working directory.
    ///   - newProcessGroup: puts the child in a process group of its own, so a
    ///     Ctrl-C meant for `oms` does not reach it; `oms` stops it in order.
    ///   - environment: variables set (or replaced) in the child's environment, ours otherwise
    ///     (a password for psql: never on a command line, which every user can read).
    static func spawn(
        _ executable: String,
        _ arguments: [String],
        outputFile: String? = nil,
        workingDirectory: String? = nil,
        newProcessGroup: Bool = false,
        environment: [String: String] = [:]
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let output = outputFile ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        oms_spawn_file_actions_addclosefrom(&actions, 3)
        if let workingDirectory {
            oms_spawn_file_actions_addchdir(&actions, workingDirectory)
        }

        // Signals we may be blocking or ignoring must not carry over to the child.
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        var emptySet = sigset_t()
        sigemptyset(&emptySet)
        posix_spawnattr_setsigmask(&attributes, &emptySet)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        let envp = environment.isEmpty ? [] : merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let result = environment.isEmpty
            ? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            : posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnError(executable: executable, code: result) }
        return pid
    }

    /// Runs `executable` to completion; returns its exit status and combined output.
    ///
    /// Waits without holding a thread: Swift's shared pool has as many threads as cores (two in
    /// CI), and two callers blocked in `waitpid` there stall every task of the process, including
    /// those the child may be waiting for (a test suite hung so). A cancelled caller kills the child.
    static func run(
        _ executable: String,
        _ arguments: [String],
        workingDirectory: String? = nil,
        environment: [String: String] = [:]
    ) async throws -> (status: Int32, output: String) {
        let outputFile = temporaryOutputFile()
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        let pid = try spawn(executable, arguments, outputFile: outputFile, workingDirectory: workingDirectory, environment: environment)
        return (await waitForExitWithoutBlocking(pid), contents(of: outputFile))
    }

    /// `run` for the few synchronous callers whose program answers at once (`pg_config
    /// --bindir`, `test -w`): blocks its thread until the child exits.
    static func runBlocking(
        _ executable: String,
        _ arguments: [String],
        workingDirectory: String? = nil
    ) throws -> (status: Int32, output: String) {
        let outputFile = temporaryOutputFile()
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        let pid = try spawn(executable, arguments, outputFile: outputFile, workingDirectory: workingDirectory)
        return (waitForExit(pid), contents(of: outputFile))
    }

    /// Where a child's output goes: a file of its own under the temp directory.
    private static func temporaryOutputFile() -> String {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("oms-child-\(getpid())-\(UUID().uuidString).log").path
    }

    private static func contents(of outputFile: String) -> String {
        (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
    }

    /// Polls for the child's exit, sleeping between looks (1 ms at first, at most 20 ms).
    static func waitForExitWithoutBlocking(_ pid: pid_t) async -> Int32 {
        var pause = 1
        while true {
            var status: Int32 = 0
            switch waitpid(pid, &status, WNOHANG) {
            case pid: return decode(status)
            case -1 where errno != EINTR: return -1
            default: break
            }
            do {
                try await Task.sleep(for: .milliseconds(pause))
            } catch {
                kill(pid, SIGKILL)
                return waitForExit(pid)
            }
            pause = min(pause * 2, 20)
        }
    }

    /// Blocks until the child `pid` exits; its exit code (128 + signal when killed).
    static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return -1 }
        }
        return decode(status)
    }

    /// The exit code of child `pid` if it has exited, else nil. Not our child: nil.
    static func exitStatusIfExited(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        return result == pid ? decode(status) : nil
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Whether a process with this pid exists and is not a zombie.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        #if os(Linux)
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let state = stat[stat.index(after: close)...].drop(while: { $0 == " " }).first
            return state != "Z" && state != "X"
        }
        #endif
        return true
    }

    /// The command line of a running process (Linux), to tell a reused pid from ours.
    static func commandLine(of pid: pid_t) -> String? {
        #if os(Linux)
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        #else
        return nil
        #endif
    }

    /// Finds an executable on PATH (or on the given search path).
    static func which(_ name: String, path: String? = nil) -> String? {
        let path = path ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
