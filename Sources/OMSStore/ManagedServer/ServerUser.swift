import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The unprivileged account the server runs as when `oms` runs as root
/// (PostgreSQL refuses to run as root). Commands are wrapped in
/// `setpriv --reuid --regid --init-groups`, which execs: the pid we hold is the server's.
struct ServerUser: Sendable {
    let name: String
    let uid: uid_t
    let gid: gid_t
    let setpriv: String

    /// nil when `oms` is not root (the server runs as the current user);
    /// otherwise `postgres`, else `nobody`.
    static func forCurrentProcess() throws -> ServerUser? {
        guard geteuid() == 0 else { return nil }
        guard let setpriv = ChildProcess.which("setpriv") ?? ["/usr/bin/setpriv", "/bin/setpriv"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw ManagedPostgresError.cannotDropPrivileges("setpriv (util-linux) is not installed")
        }
        for name in ["postgres", "nobody"] {
            if let entry = getpwnam(name) {
                return ServerUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid, setpriv: setpriv)
            }
        }
        throw ManagedPostgresError.cannotDropPrivileges("neither a 'postgres' nor a 'nobody' user exists")
    }

    /// The command line that runs `executable` as this user.
    func wrap(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        (setpriv, ["--reuid=\(uid)", "--regid=\(gid)", "--init-groups", "--", executable] + arguments)
    }

    /// Gives a folder we created to this user.
    func takeOwnership(of path: String) throws {
        guard chown(path, uid, gid) == 0 else {
            throw ManagedPostgresError.filesystem("cannot hand \(path) to user \(name): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether this user can enter and write `path` (every parent folder searchable).
    func canWrite(_ path: String) -> Bool {
        let (executable, arguments) = wrap("/usr/bin/test", ["-x", path, "-a", "-w", path])
        return (try? ChildProcess.runBlocking(executable, arguments, workingDirectory: "/"))?.status == 0
    }
}
