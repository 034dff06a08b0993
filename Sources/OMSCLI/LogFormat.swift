import ArgumentParser

/// Logging goes to standard error, so that standard output carries only results
/// (`psql "$(oms db url)"`).
/// How log lines are written.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}
