import Foundation
@testable import OMSFeeds
import Testing

/// The XML reader the KAIFA feed uses: what it reads, and every kind of document it refuses
/// (with where and why) instead of handing it to a parser that could stop the process.
@Suite("XML reader: strict, bounded, safe on any bytes")
struct XMLReaderTests {
    func parse(_ text: String) throws(FeedDecodingError) -> XMLNode { try XMLNode.parse(Array(text.utf8)) }

    func refusal(_ bytes: [UInt8], limits: XMLLimits = .feeds) -> String? {
        do {
            _ = try XMLNode.parse(bytes, limits: limits)
            return nil
        } catch {
            return error.reason
        }
    }

    func refusal(_ text: String) -> String? { refusal(Array(text.utf8)) }

    @Test("elements, local names, attributes, text, CDATA, entities, character references, comments, PIs")
    func reads() throws {
        let root = try parse("""
            <?xml version="1.0" encoding="utf-8" standalone="yes"?>
            <!-- a comment --><?app hint?>
            <ns0:Root xmlns:ns0="urn:a" ns0:kind="x &amp; y" plain='single'>
              <ns0:Child line="a\tb">one &lt;two&gt; &quot;three&quot; &apos;four&apos; &#65;&#x42;&#x1F600;</ns0:Child>
              <Child><![CDATA[<not markup> & raw]]></Child><!-- between --><?pi inside?>
              <Empty/>
            </ns0:Root>
            <!-- after -->
            """)
        #expect(root.name == "Root")
        #expect(root.attributes == ["kind": "x & y", "plain": "single"])
        #expect(root.children.map(\.name) == ["Child", "Child", "Empty"])
        #expect(root.children[0].text == "one <two> \"three\" 'four' AB😀")
        #expect(root.children[0].attributes["line"] == "a b")
        #expect(root.children[1].text == "<not markup> & raw")
        #expect(root.children[0].line == 4)
        #expect(root.children[2].children.isEmpty && root.children[2].text.isEmpty)
    }

    @Test("xmlText writes an element again, its text trimmed and escaped, and reads back the same")
    func xmlTextRoundTrip() throws {
        let root = try parse(#"<a:Root xmlns:a="urn:a" kind="x &amp; y"><Child> one &lt;two&gt; &quot;3&quot; &#xA0;</Child><Child><![CDATA[& raw]]></Child><Empty/></a:Root>"#)
        #expect(root.xmlText == #"<Root kind="x &amp; y"><Child>one &lt;two&gt; &quot;3&quot;</Child><Child>&amp; raw</Child><Empty></Empty></Root>"#)
        let again = try parse(root.xmlText)
        #expect(again.attributes["kind"] == "x & y")
        #expect(again.children.map(\.text) == ["one <two> \"3\"", "& raw", ""])
        #expect(XMLNode.escape("plain text, nothing to escape") == "plain text, nothing to escape")
    }

    @Test("a UTF-8 byte order mark and leading white space are accepted; ISO-8859-1 is read as such")
    func encodings() throws {
        #expect(try XMLNode.parse([0xEF, 0xBB, 0xBF] + Array("<a>x</a>".utf8)).text == "x")
        #expect(try parse("\n  <?xml version=\"1.0\"?><a/>").name == "a")
        let latin1: [UInt8] = Array("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf".utf8) + [0xE9] + Array("</a>".utf8)
        #expect(try XMLNode.parse(latin1).text == "café")
        #expect(try parse("<?xml version='1.0' encoding='US-ASCII'?><a>x</a>").text == "x")
    }

    @Test("other encodings are refused by name")
    func otherEncodings() {
        #expect(refusal([0xFF, 0xFE, 0x3C, 0x00]) == "is not well-formed XML: is UTF-16; only UTF-8 (or a declared US-ASCII or ISO-8859-1) is accepted")
        #expect(refusal([0x3C, 0x00, 0x61, 0x00]) != nil)
        #expect(refusal("<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>")?.contains("declares the encoding \"utf-16\"") == true)
        #expect(refusal("<?xml version=\"1.0\" encoding=\"EBCDIC-CP-US\"?><a/>")?.contains("only UTF-8, US-ASCII and ISO-8859-1") == true)
    }

    @Test("bytes that are not UTF-8, anywhere, are refused with their position", arguments: [
        ([0x3C, 0x72, 0x3E, 0x3C, 0x61, 0xC8, 0x6D, 0x2F, 0x3E, 0x3C, 0x2F, 0x72, 0x3E], "byte 6 (line 1, column 6) is not UTF-8"),
        (Array("<a>x".utf8) + [0xFF] + Array("</a>".utf8), "byte 5 (line 1, column 5) is not UTF-8 (0xFF)"),
        (Array("<a b=\"".utf8) + [0xC0, 0xAF] + Array("\"/>".utf8), "is not UTF-8 (0xC0)"),
        (Array("<a>".utf8) + [0xED, 0xA0, 0x80] + Array("</a>".utf8), "an encoded surrogate"),
        (Array("<a>".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("</a>".utf8), "beyond U+10FFFF"),
        (Array("<a>".utf8) + [0xE0, 0x80, 0xAF] + Array("</a>".utf8), "an overlong encoding"),
        (Array("<a>\n".utf8) + [0xF0, 0x9F, 0x98], "a character cut short at the end"),
        (Array("<a>\n x".utf8) + [0x00] + Array("</a>".utf8), "byte 7 (line 2, column 3) is the control character U+00"),
        (Array("<a>".utf8) + [0xEF, 0xBF, 0xBF] + Array("</a>".utf8), "is U+FFFF, which XML does not allow"),
    ] as [([UInt8], String)])
    func notUTF8(bytes: [UInt8], reason: String) {
        #expect(refusal(bytes)?.contains(reason) == true, "\(refusal(bytes) ?? "accepted")")
    }

    @Test("no DTD: entity expansion and external entities can never happen")
    func noDTD() {
        let laughs = """
            <?xml version="1.0"?>
            <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
             <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
            <lolz>&lol3;</lolz>
            """
        #expect(refusal(laughs) == "is not well-formed XML: a document type declaration (<!DOCTYPE>) is not accepted: entities and external references are never read (line 2, column 1)")
        #expect(refusal("<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><r>&xxe;</r>")?.contains("<!DOCTYPE>") == true)
        #expect(refusal("<r><!DOCTYPE r></r>")?.contains("a declaration (<!…>) is not accepted inside an element") == true)
        #expect(refusal("<r>&xxe;</r>")?.contains("the entity &xxe; is not defined") == true)
        #expect(refusal("<r a=\"&lol;\"/>")?.contains("the entity &lol; is not defined") == true)
        #expect(refusal("<r>AT&T</r>")?.contains("\"&\" starts no entity or character reference") == true)
    }

    @Test("character references must name characters XML allows", arguments: ["&#0;", "&#xD800;", "&#x110000;", "&#99999999999;", "&#;", "&#x;", "&#+65;", "&#-65;", "&#x+41;"])
    func characterReferences(reference: String) {
        #expect(refusal("<a>\(reference)</a>") != nil, "\(reference)")
    }

    @Test("nesting is bounded (64 levels accepted, 65 refused), and so are elements, attributes and names")
    func limits() throws {
        let sixtyFour = String(repeating: "<a>", count: 64) + String(repeating: "</a>", count: 64)
        #expect(try parse(sixtyFour).name == "a")
        let sixtyFive = String(repeating: "<a>", count: 65) + String(repeating: "</a>", count: 65)
        #expect(refusal(sixtyFive) == "is not well-formed XML: elements are nested deeper than 64 levels (line 1, column 193)")
        // Far past any stack: refused at level 65 after reading 195 bytes, whatever follows.
        #expect(refusal(String(repeating: "<a>", count: 1_000_000))?.contains("deeper than 64 levels") == true)
        let small = XMLLimits(maximumDepth: 64, maximumElements: 3, maximumAttributes: 2, maximumNameLength: 8)
        #expect(refusal(Array("<a><b/><c/><d/></a>".utf8), limits: small)?.contains("more than 3 elements") == true)
        #expect(refusal(Array("<a x='1' y='2' z='3'/>".utf8), limits: small)?.contains("more than 2 attributes") == true)
        #expect(refusal(Array("<abcdefghij/>".utf8), limits: small)?.contains("longer than 8 bytes") == true)
    }

    @Test("documents that are not well-formed are refused with where and why", arguments: [
        ("", "the document holds no element"),
        ("   ", "the document holds no element"),
        ("text", "text before the root element"),
        ("<a>", "the document ends before <a> (line 1) is closed"),
        ("<a><b></a>", "the end tag </a> does not match <b> of line 1"),
        ("<a></a><b/>", "content after the root element <a> closed"),
        ("<a/>trailing", "content after the root element <a> closed"),
        ("</a>", "the root element is expected here"),
        ("<![CDATA[x]]>", "the root element is expected here"),
        ("<a b='1' b='2'/>", "the attribute \"b\" appears twice in <a>"),
        ("<a b/>", "the attribute \"b\" has no value"),
        ("<a b=1/>", "the value of \"b\" is not quoted"),
        ("<a b='<'/>", "the value of \"b\" holds \"<\""),
        ("<a b='1'c='2'/>", "needs a space before its next attribute"),
        ("<1a/>", "cannot start with \"1\""),
        ("<a><!-- never closed</a>", "a comment is never closed"),
        ("<a><![CDATA[x</a>", "a CDATA section is never closed"),
        ("<a><?pi never closed</a>", "a processing instruction is never closed"),
        ("<a><?xml version='1.0'?></a>", "an XML declaration is only allowed at the very start"),
        ("<a", "the tag <a> is never closed"),
        ("<a></a", "the end tag </a> is not closed"),
        ("<?xml version='1.0'", "the XML declaration is never closed"),
        ("< a/>", "an element's name is expected"),
    ])
    func malformed(document: String, reason: String) {
        let refused = refusal(document)
        #expect(refused?.hasPrefix("is not well-formed XML: ") == true)
        #expect(refused?.contains(reason) == true, "\(document.debugDescription): \(refused ?? "accepted")")
    }

    @Test("KAIFA: several SOAP bodies or IEC headers, or too many events, are refused whole")
    func kaifaAmbiguity() {
        let event = "<EndDeviceEvent><createdDateTime>2025-09-30T10:00:00Z</createdDateTime><Assets><mRID>A</mRID></Assets><EndDeviceEventType ref=\"3.26.0.47\"/></EndDeviceEvent>"
        let twoBodies = "<Envelope><Body><EndDeviceEvents>\(event)</EndDeviceEvents></Body><Body><EndDeviceEvents>\(event)</EndDeviceEvents></Body></Envelope>"
        let bodies = KAIFADecoder.decodeBatch(Array(twoBodies.utf8))
        #expect(bodies.count == 1)
        #expect(bodies.first.flatMap { if case .failure(let error) = $0 { error.field } else { nil } } == "Envelope.Body")
        let header = "<Header><Verb>created</Verb><Noun>EndDeviceEvents</Noun></Header>"
        let twoHeaders = "<Envelope><Body><CreatedEndDeviceEvents>\(header)\(header)<Payload><EndDeviceEvents>\(event)</EndDeviceEvents></Payload></CreatedEndDeviceEvents></Body></Envelope>"
        let headers = KAIFADecoder.decodeBatch(Array(twoHeaders.utf8))
        #expect(headers.first.flatMap { if case .failure(let error) = $0 { error.field } else { nil } } == "Header")
        let many = "<EndDeviceEvents>" + String(repeating: event, count: FeedBatch.maximumMessages + 1) + "</EndDeviceEvents>"
        let tooMany = KAIFADecoder.decodeBatch(Array(many.utf8))
        #expect(tooMany.count == 1)
        #expect(tooMany.first.flatMap { if case .failure(let error) = $0 { error.reason } else { nil } }?.contains("at most 10000") == true)
    }
}
