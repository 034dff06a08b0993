import OMSDomain
import Testing

@Suite("Domain identifiers and states")
struct IdentifierTests {
    @Test("ONU serials are 4 vendor letters and 8 hex digits, any case")
    func onuSerials() throws {
        let serial = try #require(ONUSerialNumber(" hwtc1a2b3c4d "))
        #expect(serial.rawValue == "HWTC1A2B3C4D")
        #expect(serial.vendorID == "HWTC")
        for bad in ["HWTC1A2B3C4", "HWTC1A2B3C4D5", "HWT11A2B3C4D", "HWTC1A2B3C4G", "", "1234ABCDEF12"] {
            #expect(ONUSerialNumber(bad) == nil, "\(bad) should be rejected")
        }
    }

    @Test("meter numbers are trimmed and never blank")
    func meterNumbers() {
        #expect(MeterNumber("  M12345678\n")?.rawValue == "M12345678")
        #expect(MeterNumber("   ") == nil)
        #expect(MeterNumber("") == nil)
    }

    @Test("restored, closed, cancelled and merged outages are inactive")
    func outageActivity() {
        let inactive = OutageStatus.allCases.filter { !$0.isActive }
        #expect(Set(inactive) == [.restored, .closed, .cancelled, .merged])
        #expect(OutageStatus.inProgress.rawValue == "in_progress")
    }

    @Test("the four feeds are the evidence sources")
    func feeds() {
        #expect(SourceType.feeds.map(\.rawValue) == ["scada", "onu", "kaifa", "call_center"])
        #expect(!SourceType.manual.isFeed)
        #expect(SourceType.callCenter.isFeed)
    }
}
