import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// Operator actions on outages (21_operator_actions.sql) through `OutageActions`, the store type the
/// API and `oms outage` call, on the small network.
@Suite("Operator actions: the transitions table, refusals by state, the timeline names who")
struct OperatorActionTests: SmallNetworkTesting {
    let base = SmallNetwork.twoHoursAgo()

    func act(_ code: String, _ action: String, _ arguments: String = "{}", on client: PostgresClient) async throws -> String {
        try await OutageActions(client: client, logger: TestDatabase.logger)
            .act(eventID: code, action: action, actor: "dispatcher-7", arguments: arguments)
    }

    /// The SQLSTATE and message an action is refused with.
    func refusal(_ code: String, _ action: String, _ arguments: String = "{}", on client: PostgresClient) async -> (String, String) {
        do {
            _ = try await act(code, action, arguments, on: client)
            return ("none", "")
        } catch let error as PSQLError {
            return (error.serverInfo?[.sqlState] ?? "?", error.serverInfo?[.message] ?? "")
        } catch {
            return ("?", "\(error)")
        }
    }

    @Test("acknowledge, assign a crew, set the ETR, restore, close with a cause: each in the timeline with who and when")
    func lifeOfAnOutage() async throws {
        try await withNetwork { client in
            try await scada("Lockout", alarm: "Lockout", feeder: "F1", at: 0, id: "S-1", on: client)
            let code = try #require(try await visible(client).first?.code)
            _ = try await act(code, "acknowledge", on: client)
            _ = try await act(code, "assign", #"{"crew": "Crew 7"}"#, on: client)
            let etr = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3 * 3600))
            _ = try await act(code, "etr", #"{"at": "\#(etr)"}"#, on: client)
            #expect(try await client.scalar(
                "SELECT status || ' ' || crew || ' ' || acknowledged_by || ' ' || (estimated_restoration_time IS NOT NULL) FROM oms_outage_events WHERE event_id = \(code)",
                as: String.self) == "in_progress Crew 7 dispatcher-7 true")
            // Close is only for a restored outage.
            let early = await refusal(code, "close", #"{"cause": "vegetation"}"#, on: client)
            #expect(early.0 == "55000")
            #expect(early.1.contains("is in_progress") && early.1.contains("allowed only when it is restored"))
            _ = try await act(code, "restore", #"{"at": "\#(at(1800))"}"#, on: client)
            let restored = try #require(try await visible(client).first)
            #expect(restored.status == "restored")
            #expect(restored.restoredOffset == 1800)
            #expect(restored.metersOut == 0)
            let unknownCause = await refusal(code, "close", #"{"cause": "gremlins"}"#, on: client)
            #expect(unknownCause.0 == "22023" && unknownCause.1.contains("cause"))
            _ = try await act(code, "close", #"{"cause": "vegetation", "remark": "tree on the line"}"#, on: client)
            #expect(try await client.scalar(
                "SELECT status || ' ' || cause_code || ' ' || remark FROM oms_outage_events WHERE event_id = \(code)",
                as: String.self) == "closed vegetation tree on the line")
            let lines = try await timeline(code, client).filter { $0.hasPrefix("operator_") }
            #expect(lines.count == 5)
            #expect(lines.allSatisfy { $0.hasSuffix("— dispatcher-7") || $0.contains("— dispatcher-7") })
            // Nothing is allowed after closing but acknowledging.
            #expect(await refusal(code, "cancel", on: client).0 == "55000")
        }
    }

    @Test("merge and split move evidence and meters; cancel ends a false outage; bad arguments are named and change nothing")
    func mergeSplitCancel() async throws {
        try await withNetwork { client in
            try await gasp("M-F2-D1-1", at: 0, on: client)
            try await gasp("M-F2-D1-2", at: 1, on: client)
            try await gasp("M-F3-D4-1", at: 2, on: client)
            let shown = try await visible(client)
            let dp = try #require(shown.first { $0.device == "F2-D1" })
            let single = try #require(shown.first { $0.device == "F3-D4" })
            #expect(await refusal(single.code, "merge", #"{"into": "NOPE"}"#, on: client).0 == "22023")
            _ = try await act(single.code, "merge", #"{"into": "\#(dp.code)"}"#, on: client)
            var all = try await outages(client)
            #expect(all.first { $0.code == single.code }?.mergedInto == dp.code)
            #expect(all.first { $0.code == dp.code }?.meters == 5)
            // Split the merged-in meter back out, by meter number.
            let badSplit = await refusal(dp.code, "split", #"{"meters": ["M-F1-D1-1"]}"#, on: client)
            #expect(badSplit.0 == "22023" && badSplit.1.contains("meters"))
            let split = try await act(dp.code, "split", #"{"meters": ["M-F3-D4-1"]}"#, on: client)
            all = try await outages(client)
            let new = try #require(all.first { $0.code == split })
            #expect(new.meters == 1 && new.status == "confirmed" && new.basis == "operator")
            #expect(all.first { $0.code == dp.code }?.meters == 4)
            _ = try await act(split, "cancel", #"{"remark": "customer's own breaker"}"#, on: client)
            #expect(try await visible(client).first { $0.code == split }?.status == "cancelled")
            #expect(await refusal(split, "restore", on: client).0 == "55000")
            #expect(await refusal("NOPE", "acknowledge", on: client).0 == "P0002")
            #expect(await refusal(dp.code, "explode", on: client).0 == "22023")
        }
    }

    @Test("an outage an operator confirmed is pinned: the roll-up leaves it alone")
    func confirmedIsPinned() async throws {
        try await withNetwork { client in
            try await gasp("M-F2-D1-1", at: 0, on: client)
            let first = try #require(try await visible(client).first)
            #expect(first.status == "detected")
            _ = try await act(first.code, "confirm", on: client)
            for (index, meter) in ["M-F2-D2-1", "M-F2-D2-2", "M-F2-D3-1", "M-F2-D3-2"].enumerated() {
                try await gasp(meter, at: Double(index + 1), on: client)
            }
            let shown = try await visible(client)
            #expect(shown.contains { $0.device == "F2" })
            #expect(shown.first { $0.code == first.code }?.status == "confirmed")
        }
    }
}
