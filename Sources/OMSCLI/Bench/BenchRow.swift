import Foundation

/// One line of the table.
struct BenchRow: Codable, Sendable {
    var operation: String
    var meters: Int
    var path: String
    var runs: Int
    var p50: Double
    var p99: Double
    var baseline: String
    var baselineP50: Double
    var goal: Double?

    var ratio: Double { p50 / baselineP50 }

    static func table(_ rows: [BenchRow]) -> String {
        var table = TextTable(columns: [
            "operation", "registry", "path", "runs", "p50 ms", "p99 ms", "baseline", "baseline p50", "ratio",
            "goal p50", "met",
        ])
        for row in rows {
            table.append([
                row.operation, "\(row.meters)", row.path, "\(row.runs)", String(format: "%.2f", row.p50),
                String(format: "%.2f", row.p99), row.baseline, String(format: "%.3f", row.baselineP50),
                String(format: "%.1fx", row.ratio), row.goal.map { String(format: "%.0f", $0) } ?? "-",
                row.goal.map { row.p50 <= $0 ? "yes" : "NO" } ?? "-",
            ])
        }
        return table.render()
    }
}
