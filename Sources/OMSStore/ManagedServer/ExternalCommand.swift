/// Runs an external program to completion (for tools such as psql).
public enum ExternalCommand {
    /// Exit status and combined stdout/stderr of `executable` run with `arguments`.
    public static func run(_ executable: String, _ arguments: [String], workingDirectory: String? = nil) async throws
        -> (status: Int32, output: String)
    {
        try await ChildProcess.run(executable, arguments, workingDirectory: workingDirectory)
    }
}
