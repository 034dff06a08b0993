import Foundation
import OMSSimulation

/// The simulator's mixed storm (`oms simulate scenario --kind mixed`) on the benchmark registry, as
/// the feeds' clients would send it: the issue-18 storm "with SCADA and calls mixed in".
///
/// The scenario runs on the registry's pool substations (`BenchRegistry.networks`' first part, the
/// same network the registry was imported from, so every identity matches), with the mixed kind's
/// defaults and its failures scaled to the registry: the issue-7 storm's 14 distribution points, 5
/// feeders and 1 substation per 100,000 meters. It ends before now (its restorations included), so
/// no message is refused as from the future.
enum MixedStorm {
    /// The smallest registry whose pool network (26 substations at 50,000) holds the failures.
    static let minimumMeters = 50_000

    /// The storm's requests (`scenario(meters:seed:now:)`'s). Each feed's integration is its own client, as
    /// at a utility (the head-end's JSON and its SOAP interfaces, the OLT's manager, the SCADA
    /// gateway, the call center's CRM): it sends its own messages in their delivery order, the JSON
    /// ones batched up to `batch` events a request (a message is never split), a SOAP XML message
    /// alone. The requests are interleaved by their first message's place in the delivery order.
    /// (`oms replay` instead batches only messages consecutive in the whole stream, one request at a
    /// time: a score of the engine, not of throughput.)
    static func traffic(_ scenario: Scenario, batch: Int) -> StormTraffic {
        let deliveries = scenario.deliveries
        // A JSON feed's request being filled: where it starts, its messages, their events.
        var open: [String: (first: Int, bodies: [String], events: Int)] = [:]
        var requests: [(first: Int, request: StormRequest)] = []
        func close(_ feed: FeedKind) {
            guard let pending = open.removeValue(forKey: feed.rawValue) else { return }
            requests.append((pending.first, StormRequest(
                path: feed.path, contentType: "application/json",
                body: Replayer.jsonArray(pending.bodies), events: pending.events)))
        }
        for (index, delivery) in deliveries.enumerated() {
            let events = self.events(in: delivery)
            guard delivery.contentType == "application/json" else {
                requests.append((index, StormRequest(
                    path: delivery.feed.path, contentType: delivery.contentType, body: delivery.body, events: events)))
                continue
            }
            if let pending = open[delivery.feed.rawValue], pending.events + events > batch { close(delivery.feed) }
            open[delivery.feed.rawValue, default: (index, [], 0)].bodies.append(delivery.body)
            open[delivery.feed.rawValue]!.events += events
        }
        for feed in FeedKind.allCases { close(feed) }
        return StormTraffic(requests: requests.sorted { $0.first < $1.first }.map(\.request))
    }

    /// The feed events one message carries: a head-end's message may hold several (a JSON array,
    /// or a SOAP `EndDeviceEvents` with several `EndDeviceEvent`s), as the service counts them.
    static func events(in delivery: Delivery) -> Int {
        if delivery.contentType == "application/json" {
            guard delivery.body.first(where: { !$0.isWhitespace }) == "[",
                  let items = try? JSONSerialization.jsonObject(with: Data(delivery.body.utf8)) as? [Any]
            else { return 1 }
            return items.count
        }
        return max(1, delivery.body.ranges(of: /<(\w+:)?EndDeviceEvent>/).count)
    }

    /// The scenario for a registry of `meters` (its ground truth included).
    static func scenario(meters: Int, seed: UInt64 = 7, now: Date = Date()) -> Scenario {
        let network = SimulatedNetwork(BenchRegistry.networks(size: meters)[0])
        var parameters = Scenario.Parameters.defaults(for: .mixed, seed: seed)
        let scale = max(1, meters / 100_000)
        parameters.failedDPs *= scale
        parameters.failedFeeders *= scale
        parameters.failedSubstations *= scale
        // Its last restoration (and a late delivery) an hour before now.
        let span = parameters.durationMinutes + parameters.restorationMinutesMax + 60
        parameters.start = now.addingTimeInterval(-Double(span * 60))
        return Scenario(network: network, parameters: parameters)
    }
}
