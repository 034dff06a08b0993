import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

/// network_substation_meters and network_feeder_meters follow oms_meters.
@Suite("Mapping tables follow the registry")
struct MappingTests {
    /// "substation/feeder" business ids of a meter's links, sorted, with the link source.
    func links(of meter: String, on client: PostgresClient) async throws -> (substations: [String], feeders: [String]) {
        let substations = try await client.scalar(
            """
            SELECT coalesce(array_agg(s.substation_id || ':' || coalesce(f.feeder_id, '-') || ':' || l.link_source
                                      ORDER BY s.substation_id), '{}')
              FROM network_substation_meters l
              JOIN oms_meters m ON m.id = l.meter_id
              JOIN network_substations s ON s.id = l.substation_id
              LEFT JOIN network_feeders f ON f.id = l.feeder_id
             WHERE m.meter_number = \(meter)
            """, as: [String].self)
        let feeders = try await client.scalar(
            """
            SELECT coalesce(array_agg(f.feeder_id || ':' || l.link_source ORDER BY f.feeder_id), '{}')
              FROM network_feeder_meters l
              JOIN oms_meters m ON m.id = l.meter_id
              JOIN network_feeders f ON f.id = l.feeder_id
             WHERE m.meter_number = \(meter)
            """, as: [String].self)
        return (substations, feeders)
    }

    func setFeeder(_ meter: String, _ feeder: String?, clearingDP: Bool = true, on client: PostgresClient) async throws {
        try await client.execute(
            """
            UPDATE oms_meters
               SET feeder_id = (SELECT id FROM network_feeders WHERE feeder_id = \(feeder)),
                   dp_id = CASE WHEN \(clearingDP) THEN NULL ELSE dp_id END
             WHERE meter_number = \(meter)
            """)
    }

    @Test("a new meter is linked to its substation and feeder, derived from its distribution point")
    func insertLinks() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            try await client.execute(
                """
                INSERT INTO oms_meters (meter_number, dp_id)
                SELECT 'M-NEW', id FROM network_distribution_points WHERE dp_id = 'FD005-DP03'
                """)
            let (substations, feeders) = try await links(of: "M-NEW", on: client)
            #expect(substations == ["SS002:FD005:registry"])
            #expect(feeders == ["FD005:registry"])
            // Every sample meter got its two links through the same set-based trigger.
            #expect(try await client.scalar("SELECT count(*)::int FROM network_substation_meters", as: Int.self) == 2701)
            #expect(try await client.scalar("SELECT count(*)::int FROM network_feeder_meters", as: Int.self) == 2701)
        }
    }

    @Test("re-parenting moves the registry links: same substation, other substation, by DP")
    func reparenting() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            // M12345678 is on FD001 (SS001).
            try await setFeeder("M12345678", "FD002", on: client)
            var current = try await links(of: "M12345678", on: client)
            #expect(current.substations == ["SS001:FD002:registry"])
            #expect(current.feeders == ["FD002:registry"])

            try await setFeeder("M12345678", "FD007", on: client)
            current = try await links(of: "M12345678", on: client)
            #expect(current.substations == ["SS003:FD007:registry"])
            #expect(current.feeders == ["FD007:registry"])

            try await client.execute(
                """
                UPDATE oms_meters SET dp_id = (SELECT id FROM network_distribution_points WHERE dp_id = 'FD004-DP02')
                 WHERE meter_number = 'M12345678'
                """)
            current = try await links(of: "M12345678", on: client)
            #expect(current.substations == ["SS002:FD004:registry"])
            #expect(current.feeders == ["FD004:registry"])
        }
    }

    @Test("deactivation removes the links; reactivation restores them")
    func deactivation() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            try await client.execute("UPDATE oms_meters SET status = 'inactive' WHERE meter_number = 'M12345678'")
            var current = try await links(of: "M12345678", on: client)
            #expect(current.substations.isEmpty && current.feeders.isEmpty)
            try await client.execute("UPDATE oms_meters SET status = 'active' WHERE meter_number = 'M12345678'")
            current = try await links(of: "M12345678", on: client)
            #expect(current.substations == ["SS001:FD001:registry"])
            #expect(current.feeders == ["FD001:registry"])
        }
    }

    @Test("a manual second feed survives re-parenting; status-only updates leave links alone")
    func manualLinks() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            try await client.linkByHand(meter: "M12345678", toFeeder: "FD003", circuitPath: "FD003 tie switch", priority: 10)
            try await setFeeder("M12345678", "FD002", on: client)
            var current = try await links(of: "M12345678", on: client)
            #expect(current.feeders == ["FD002:registry", "FD003:manual"])

            let before = try await client.scalar("SELECT count(*)::int FROM network_feeder_meters", as: Int.self)
            try await client.execute("UPDATE oms_meters SET power_status = 'off', communication_status = 'offline'")
            #expect(try await client.scalar("SELECT count(*)::int FROM network_feeder_meters", as: Int.self) == before)
            current = try await links(of: "M12345678", on: client)
            #expect(current.feeders == ["FD002:registry", "FD003:manual"])
        }
    }

    @Test("a feeder of another substation is refused, naming both")
    func mismatchedTopologyRefused() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            await #expect {
                try await client.execute(
                    """
                    UPDATE oms_meters
                       SET dp_id = NULL,
                           feeder_id = (SELECT id FROM network_feeders WHERE feeder_id = 'FD004'),
                           substation_id = (SELECT id FROM network_substations WHERE substation_id = 'SS003')
                     WHERE meter_number = 'M12345678'
                    """)
            } throws: { error in
                let message = error.readableDatabaseMessage
                return message.contains("feeder FD004 belongs to substation SS002, not to substation SS003")
            }
            await #expect {
                try await client.execute(
                    """
                    INSERT INTO oms_meters (meter_number, dp_id, feeder_id)
                    SELECT 'M-BAD', dp.id, f.id FROM network_distribution_points dp, network_feeders f
                     WHERE dp.dp_id = 'FD001-DP01' AND f.feeder_id = 'FD002'
                    """)
            } throws: { error in
                error.readableDatabaseMessage.contains("FD001-DP01 is on feeder FD001, not on feeder FD002")
            }
        }
    }

    @Test("moving a feeder to another substation moves its meters and their links")
    func feederMoved() async throws {
        try await TestDatabase.with(.sampleNetwork) { database in
            let client = database.client
            try await client.execute(
                """
                UPDATE network_feeders SET substation_id = (SELECT id FROM network_substations WHERE substation_id = 'SS003')
                 WHERE feeder_id = 'FD001'
                """)
            #expect(try await links(of: "M12345678", on: client).substations == ["SS003:FD001:registry"])
            let moved = try await client.scalar(
                """
                SELECT count(*)::int FROM network_substation_meters l
                  JOIN network_substations s ON s.id = l.substation_id
                  JOIN network_feeders f ON f.id = l.feeder_id
                 WHERE s.substation_id = 'SS003' AND f.feeder_id = 'FD001'
                """, as: Int.self)
            #expect(moved == 300)
            let report = try await client.scalar(
                "SELECT bool_and(passed) FROM oms_validation_report() WHERE check_name LIKE '%consistent%'", as: Bool.self)
            #expect(report)
        }
    }
}
