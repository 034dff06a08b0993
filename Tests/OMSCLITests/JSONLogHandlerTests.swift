import ArgumentParser
import Foundation
import Logging
import Synchronization
import Testing

@testable import OMSCLI

@Suite("--log-format json")
struct JSONLogHandlerTests {
    @Test("one JSON object per line: time, level, label, message, source and every metadata value")
    func jsonLines() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "oms.test") { label in
            JSONLogHandler(label: label) { line in lines.withLock { $0.append(line) } }
        }
        logger.logLevel = .debug
        logger[metadataKey: "hb.request.id"] = "a1b2c3"
        logger.notice("meter \"M1\" off", metadata: ["feed": "kaifa", "count": "2"])
        logger.trace("not written")
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: String])
        #expect(object["message"] == #"meter "M1" off"#)
        #expect(object["level"] == "notice")
        #expect(object["label"] == "oms.test")
        #expect(object["hb.request.id"] == "a1b2c3")
        #expect(object["feed"] == "kaifa")
        #expect(object["count"] == "2")
        #expect(object["source"] != nil)
        let time = try #require(object["time"])
        #expect((try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(time)) != nil)
        #expect(!written[0].contains("\n"))
    }

    @Test("--log-format takes text or json")
    func option() throws {
        #expect(throws: (any Error).self) { try OMSCommand.parseAsRoot(["validate", "--log-format", "xml"]) }
        let command = try OMSCommand.parseAsRoot(["validate", "--log-format", "json"])
        #expect(command is ValidateCommand)
    }
}
