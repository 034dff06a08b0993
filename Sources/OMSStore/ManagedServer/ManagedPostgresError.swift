/// Why the managed local PostgreSQL could not be set up, started or stopped.
public enum ManagedPostgresError: Error, CustomStringConvertible, Equatable {
    case serverNotInstalled
    case cannotDropPrivileges(String)
    case filesystem(String)
    case initdbFailed(output: String)
    case startFailed(exitStatus: Int32?, logTail: String)
    case stopTimedOut(pid: Int32)
    case notInitialized(directory: String)
    case unreadableState(String)

    public var description: String {
        switch self {
        case .serverNotInstalled:
            return """
                no PostgreSQL server programs found (looked for initdb and postgres in $OMS_PG_BINDIR, on PATH, \
                via pg_config --bindir and in /usr/lib/postgresql/*/bin). Install PostgreSQL 15 or newer \
                (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15), \
                or pass --database-url to use an existing server.
                """
        case .cannotDropPrivileges(let reason):
            return "running as root, oms must start PostgreSQL as an unprivileged user, but \(reason)"
        case .filesystem(let reason):
            return reason
        case .initdbFailed(let output):
            return "initdb failed:\n\(output)"
        case .startFailed(let status, let logTail):
            let how = status.map { "exited with status \($0)" } ?? "did not accept connections in time"
            return "the managed PostgreSQL server \(how); last lines of its log:\n\(logTail)"
        case .stopTimedOut(let pid):
            return "the managed PostgreSQL server (pid \(pid)) did not stop in time"
        case .notInitialized(let directory):
            return "no managed database in \(directory) yet: run `oms db start` or `oms migrate` first"
        case .unreadableState(let reason):
            return reason
        }
    }
}
