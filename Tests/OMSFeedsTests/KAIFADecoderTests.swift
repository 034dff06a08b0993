import Foundation
import OMSFeeds
import Testing

@Suite("KAIFA decoder: IEC 61968-9 CreatedEndDeviceEvents")
struct KAIFADecoderTests {
    /// As the head-end sends it: SOAP, IEC 61968-100 message with the ns2: payload prefix.
    static let soap = """
        <?xml version="1.0" encoding="UTF-8"?>
        <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
          <soapenv:Header/>
          <soapenv:Body>
            <ns0:CreatedEndDeviceEvents xmlns:ns0="http://iec.ch/TC57/2011/schema/message"
                                        xmlns:ns2="http://iec.ch/TC57/2011/EndDeviceEvents#">
              <ns0:Header>
                <ns0:Verb>created</ns0:Verb>
                <ns0:Noun>EndDeviceEvents</ns0:Noun>
                <ns0:Revision>2.0</ns0:Revision>
                <ns0:Timestamp>2025-09-30T10:00:05Z</ns0:Timestamp>
                <ns0:Source>KAIFA-HES</ns0:Source>
                <ns0:MessageID>MSG-0001</ns0:MessageID>
              </ns0:Header>
              <ns0:Payload>
                <ns2:EndDeviceEvents>
                  <ns2:EndDeviceEvent>
                    <ns2:mRID>EV-1</ns2:mRID>
                    <ns2:createdDateTime>2025-09-30T10:00:02Z</ns2:createdDateTime>
                    <ns2:reason>Power down</ns2:reason>
                    <ns2:severity>high</ns2:severity>
                    <ns2:Assets><ns2:mRID>ASSET-1</ns2:mRID></ns2:Assets>
                    <ns2:EndDeviceEventDetails><ns2:name>phase</ns2:name><ns2:value>A</ns2:value></ns2:EndDeviceEventDetails>
                    <ns2:EndDeviceEventType ref="3.26.136.47"/>
                    <ns2:status><ns2:value>active</ns2:value></ns2:status>
                    <ns2:UsagePoint><ns2:mRID>UP-1</ns2:mRID></ns2:UsagePoint>
                  </ns2:EndDeviceEvent>
                  <ns2:EndDeviceEvent>
                    <ns2:mRID>EV-2</ns2:mRID>
                    <ns2:createdDateTime>2025-09-30T10:45:00+03:00</ns2:createdDateTime>
                    <ns2:UsagePoint><ns2:mRID>UP-2</ns2:mRID></ns2:UsagePoint>
                    <ns2:EndDeviceEventType ref="3.26.0.216"/>
                  </ns2:EndDeviceEvent>
                </ns2:EndDeviceEvents>
              </ns0:Payload>
            </ns0:CreatedEndDeviceEvents>
          </soapenv:Body>
        </soapenv:Envelope>
        """

    func decode(_ text: String) -> [Result<KAIFAEvent, FeedDecodingError>] {
        KAIFADecoder.decodeBatch(Array(text.utf8))
    }

    @Test("SOAP-wrapped, namespaced: every EndDeviceEvent with the header's source")
    func soapMessage() throws {
        let events = decode(Self.soap)
        #expect(events.count == 2)
        let first = try events[0].get()
        #expect(first.mRID == "EV-1")
        #expect(first.eventTypeRef == "3.26.136.47")
        #expect(first.assetMRID == "ASSET-1")
        #expect(first.usagePointMRID == "UP-1")
        #expect(first.source == "KAIFA-HES")
        #expect(first.createdDateTime == Date(timeIntervalSince1970: 1_759_226_402))
        let json = first.message.objectValue
        #expect(json?["details"] == .array([.object(["name": .string("phase"), "value": .string("A")])]))
        #expect(json?["header"]?.objectValue?["messageID"] == .string("MSG-0001"))
        if case .string(let raw)? = json?["rawXML"] {
            #expect(raw.hasPrefix("<EndDeviceEvent><mRID>EV-1</mRID>"))
        } else {
            Issue.record("rawXML missing")
        }
        #expect(try events[1].get().usagePointMRID == "UP-2")
        #expect(KAIFADecoder.isBatch(Array(Self.soap.utf8)))
    }

    @Test("no SOAP, no prefixes, one event: not a batch")
    func plainMessage() throws {
        let xml = """
            <CreatedEndDeviceEvents><Header><Verb>created</Verb><Noun>EndDeviceEvents</Noun></Header>
            <Payload><EndDeviceEvents><EndDeviceEvent><createdDateTime>2025-09-30T10:00:00Z</createdDateTime>
            <Names><name>M12345678</name></Names><EndDeviceEventType ref="3.23.136.47"/></EndDeviceEvent>
            </EndDeviceEvents></Payload></CreatedEndDeviceEvents>
            """
        let event = try decode(xml).first!.get()
        #expect(event.meterNumber == "M12345678")
        #expect(event.eventTypeRef == "3.23.136.47")
        #expect(!KAIFADecoder.isBatch(Array(xml.utf8)))
    }

    @Test("the JSON form, with CIM names or flat ones")
    func jsonForm() throws {
        let events = decode("""
            {"mRID": "J1", "createdDateTime": "2025-09-30T10:00:00Z", "EndDeviceEventType": {"ref": "3.26.0.47"}, "Assets": {"mRID": "A1"}}
            {"mRID": "J2", "createdDateTime": "2025-09-30T10:00:00Z", "eventTypeRef": "3.26.0.216", "usagePointMRID": "U1", "source": "KAIFA-HES"}
            """)
        #expect(try events[0].get().assetMRID == "A1")
        #expect(try events[1].get().source == "KAIFA-HES")
    }

    @Test("malformed messages are refused naming the element", arguments: [
        ("<CreatedEndDeviceEvents><Header>", nil as String?, "not well-formed XML"),
        ("<CreatedEndDeviceEvents><Header><Noun>MeterReadings</Noun></Header></CreatedEndDeviceEvents>", "Header.Noun", "must be EndDeviceEvents"),
        ("<CreatedEndDeviceEvents><Payload/></CreatedEndDeviceEvents>", "Payload.EndDeviceEvents", "holds no EndDeviceEvent"),
        ("<EndDeviceEvents><EndDeviceEvent><Assets><mRID>A</mRID></Assets><EndDeviceEventType ref=\"3.26.0.47\"/></EndDeviceEvent></EndDeviceEvents>", "createdDateTime", "is required"),
        ("<EndDeviceEvents><EndDeviceEvent><createdDateTime>2025-09-30T10:00:00Z</createdDateTime><Assets><mRID>A</mRID></Assets></EndDeviceEvent></EndDeviceEvents>", "EndDeviceEventType.ref", "is required"),
        ("<EndDeviceEvents><EndDeviceEvent><createdDateTime>2025-09-30T10:00:00Z</createdDateTime><EndDeviceEventType ref=\"3.26.0.47\"/></EndDeviceEvent></EndDeviceEvents>", "Assets.mRID", "is required"),
        (#"{"createdDateTime": "2025-09-30T10:00:00Z", "eventTypeRef": "power down", "assetMRID": "A"}"#, "EndDeviceEventType.ref", "type.domain.subdomain.eventOrAction"),
    ])
    func malformed(message: String, field: String?, reason: String) {
        guard case .failure(let error)? = decode(message).first else {
            Issue.record("accepted \(message)")
            return
        }
        #expect(error.field == field)
        #expect(error.reason.contains(reason), "\(error)")
    }
}
