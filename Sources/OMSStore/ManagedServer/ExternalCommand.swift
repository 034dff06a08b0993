/// Runs an external program to completion (for tools such as psql).
public enum ExternalCommand {
    /// Exit status and combined stdout/stderr of `executable` run with `arguments`, with
    /// `environment` added to ours.
    public static func run(
        _ executable: String, _ arguments: [String], workingDirectory: String? = nil, environment: [String: String] = [:]
    ) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(executable, arguments, workingDirectory: workingDirectory, environment: environment)
    }
}
