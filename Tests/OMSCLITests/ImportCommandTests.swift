import ArgumentParser
import Foundation
import OMSStore
import OMSTestSupport
import PostgresNIO
import Testing

@testable import OMSCLI

extension CommandTests {
    @Test("oms import imports a folder in kind order, reports refused rows and exits 1; again, it changes nothing")
    func importFolder() async throws {
        try await withScratchFolder { folder in
            try await TestDatabase.with(.empty) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                // Written in the wrong order on purpose: the command imports substations first.
                try "meter_number,dp_id\nM1,D1\nM2,D9\n".write(toFile: "\(folder)/meters.csv", atomically: true, encoding: .utf8)
                try "dp_id,feeder_id\nD1,F1\n".write(toFile: "\(folder)/distribution_points.csv", atomically: true, encoding: .utf8)
                try "feeder_id,substation_id\nF1,SS1\n".write(toFile: "\(folder)/feeders.csv", atomically: true, encoding: .utf8)
                try "substation_id,name\nSS1,North\n".write(toFile: "\(folder)/substations.csv", atomically: true, encoding: .utf8)
                try "not an import file".write(toFile: "\(folder)/README.txt", atomically: true, encoding: .utf8)

                await #expect(throws: ExitCode(1)) { try await run(["import", folder, "--database-url", url]) }
                let placed = try await database.client.scalar(
                    """
                    SELECT string_agg(m.meter_number || '@' || s.substation_id, ',') FROM oms_meters m
                      JOIN network_substations s ON s.id = m.substation_id
                    """, as: String.self)
                #expect(placed == "M1@SS1")

                try "meter_number,dp_id\nM1,D1\n".write(toFile: "\(folder)/meters.csv", atomically: true, encoding: .utf8)
                try await run(["import", folder, "--database-url", url])
                try await run(["import", "\(folder)/meters.csv", "--database-url", url])
                #expect(try await database.client.scalar("SELECT count(*)::int FROM oms_meters", as: Int.self) == 1)
            }
        }
    }

    @Test("oms import refuses a file whose kind it cannot tell, and an unknown --kind")
    func importRefusals() async throws {
        try await withScratchFolder { folder in
            try "meter_number\nM1\n".write(toFile: "\(folder)/export.csv", atomically: true, encoding: .utf8)
            await #expect(throws: ValidationError.self) { try await run(["import", "\(folder)/export.csv", "--database-url", "postgres://nobody@127.0.0.1:1/x"]) }
            #expect(throws: (any Error).self) { try OMSCommand.parseAsRoot(["import", "\(folder)/export.csv", "--kind", "poles"]) }
        }
    }

    @Test("a database error stops oms import with the server's own words, not PostgresNIO's generic description")
    func databaseErrorIsReadable() async throws {
        try await withScratchFolder { folder in
            try await TestDatabase.with(.migrated) { database in
                let url = try await TestDatabase.server().connectionURL(database: database.name)
                try await database.client.execute("ALTER TABLE oms_customers ADD CONSTRAINT no_amal CHECK (name <> 'Amal')")
                try "customer_id,name\nC1,Amal\n".write(toFile: "\(folder)/customers.csv", atomically: true, encoding: .utf8)
                do {
                    try await run(["import", "\(folder)/customers.csv", "--database-url", url])
                    Issue.record("the import was accepted")
                } catch {
                    let reported = String(describing: OMSCommand.readable(error))
                    #expect(reported.contains(#"violates check constraint "no_amal""#))
                    #expect(reported.contains("SQLSTATE 23514"))
                    #expect(!String(describing: error).contains("no_amal"), "PostgresNIO's own description hides the server's message")
                }
                #expect(try await database.client.scalar("SELECT count(*)::int FROM oms_customers", as: Int.self) == 0)
            }
        }
    }
}
