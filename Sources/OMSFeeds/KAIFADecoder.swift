import Foundation
import OMSDomain

/// Decodes KAIFA messages: XML (`CreatedEndDeviceEvents`, SOAP or not) or JSON
/// (one event object, an array, or NDJSON).
public enum KAIFADecoder {
    /// XML when the body starts with `<`, JSON otherwise.
    public static func decodeBatch(_ body: [UInt8]) -> [Result<KAIFAEvent, FeedDecodingError>] {
        isXML(body) ? decodeXML(body) : FeedBatch.decode(body, with: decode)
    }

    /// Whether a body is a batch: several events (XML) or an array / several lines (JSON).
    public static func isBatch(_ body: [UInt8]) -> Bool {
        isBatch(body, decoded: isXML(body) ? decodeXML(body).count : 0)
    }

    /// The same for a body already decoded into `decoded` items (`decodeBatch`): an XML document
    /// by that count, without reading it again (a second decoding only to count the events was a
    /// tenth of a KAIFA request's work in the service).
    public static func isBatch(_ body: [UInt8], decoded: Int) -> Bool {
        isXML(body) ? decoded > 1 : FeedBatch.isBatch(body)
    }

    static func isXML(_ body: [UInt8]) -> Bool {
        body.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 >= 0x80) } == UInt8(ascii: "<")
    }

    // MARK: - JSON

    /// One event in the JSON form (see `0015_kaifa_feed.sql`); CIM names are accepted too.
    public static func decode(_ message: JSONValue) throws(FeedDecodingError) -> KAIFAEvent {
        let fields = try FieldReader(message)
        var typeRef = try fields.optionalText("eventTypeRef")
        if typeRef == nil, let type = try fields.optionalObject("EndDeviceEventType") {
            typeRef = try type.optionalText("ref")
        }
        var asset = try fields.optionalText("assetMRID")
        if asset == nil, let assets = try fields.optionalObject("Assets") { asset = try assets.optionalText("mRID") }
        var point = try fields.optionalText("usagePointMRID")
        if point == nil, let usagePoint = try fields.optionalObject("UsagePoint") { point = try usagePoint.optionalText("mRID") }
        var source = try fields.optionalText("source")
        if source == nil, let header = try fields.optionalObject("header") { source = try header.optionalText("source") }
        return try validated(
            mRID: fields.optionalText("mRID"), created: fields.requiredTime("createdDateTime"), typeRef: typeRef,
            asset: asset, point: point, meterNumber: fields.optionalText("meterNumber"),
            reason: fields.optionalText("reason"), severity: fields.optionalText("severity"), source: source,
            message: message)
    }

    static func validated(
        mRID: String?, created: Date, typeRef: String?, asset: String?, point: String?, meterNumber: String?,
        reason: String?, severity: String?, source: String?, message: JSONValue
    ) throws(FeedDecodingError) -> KAIFAEvent {
        guard let typeRef else {
            throw FeedDecodingError(field: "EndDeviceEventType.ref", reason: "is required")
        }
        let parts = typeRef.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
            throw FeedDecodingError(
                field: "EndDeviceEventType.ref",
                reason: "must be a code type.domain.subdomain.eventOrAction (3.26.0.47), not \"\(typeRef)\"")
        }
        guard asset != nil || point != nil || meterNumber != nil else {
            throw FeedDecodingError(field: "Assets.mRID", reason: "(or \"UsagePoint.mRID\", \"meterNumber\") is required")
        }
        return KAIFAEvent(
            mRID: mRID, createdDateTime: created, eventTypeRef: typeRef, assetMRID: asset, usagePointMRID: point,
            meterNumber: meterNumber, reason: reason, severity: severity, source: source, message: message)
    }

    // MARK: - XML

    /// Each EndDeviceEvent of a `CreatedEndDeviceEvents` message, decoded or refused.
    public static func decodeXML(_ body: [UInt8]) -> [Result<KAIFAEvent, FeedDecodingError>] {
        let root: XMLNode
        do {
            root = try XMLNode.parse(body)
        } catch {
            return [.failure(error)]
        }
        // One message per document: a SOAP envelope with several bodies, or several
        // CreatedEndDeviceEvents, is ambiguous (which header goes with which events?).
        if root.name == "Envelope", root.children("Body").count > 1 {
            return [.failure(FeedDecodingError(
                field: "Envelope.Body", reason: "appears \(root.children("Body").count) times; a message has one SOAP body"))]
        }
        // The IEC 61968-100 Header is the one with a Verb or Noun (a SOAP envelope has a Header too).
        let headers = ([root] + root.descendants("Header")).filter {
            $0.name == "Header" && ($0.child("Noun") != nil || $0.child("Verb") != nil)
        }
        if headers.count > 1 {
            return [.failure(FeedDecodingError(
                field: "Header", reason: "appears \(headers.count) times; a message has one IEC 61968-100 header"))]
        }
        let header = headers.first
        if let noun = header?.childText("Noun"), noun.lowercased() != "enddeviceevents" {
            return [.failure(FeedDecodingError(field: "Header.Noun", reason: "must be EndDeviceEvents, not \"\(noun)\""))]
        }
        let events = root.descendants("EndDeviceEvent")
        guard !events.isEmpty else {
            return [.failure(FeedDecodingError(field: "Payload.EndDeviceEvents", reason: "holds no EndDeviceEvent"))]
        }
        guard events.count <= FeedBatch.maximumMessages else {
            return [.failure(FeedDecodingError(
                field: "Payload.EndDeviceEvents",
                reason: "holds \(events.count) EndDeviceEvents; at most \(FeedBatch.maximumMessages) are accepted per message"))]
        }
        var headerJSON: [String: JSONValue] = [:]
        for (key, element) in [("verb", "Verb"), ("noun", "Noun"), ("timestamp", "Timestamp"), ("source", "Source"),
                               ("messageID", "MessageID"), ("correlationID", "CorrelationID")] {
            if let value = header?.childText(element) { headerJSON[key] = .string(value) }
        }
        return events.enumerated().map { index, element in
            Result { () throws(FeedDecodingError) in try decode(element, header: headerJSON) }
                .mapError { error in
                    var error = error
                    error.index = events.count > 1 ? index : nil
                    return error
                }
        }
    }

    static func decode(_ event: XMLNode, header: [String: JSONValue]) throws(FeedDecodingError) -> KAIFAEvent {
        var json: [String: JSONValue] = [:]
        func put(_ key: String, _ value: String?) { if let value { json[key] = .string(value) } }
        let typeElement = event.child("EndDeviceEventType")
        let typeRef = typeElement?.attributes["ref"] ?? typeElement?.childText("ref")
        guard let createdText = event.childText("createdDateTime") else {
            throw FeedDecodingError(field: "createdDateTime", reason: "is required (line \(event.line))")
        }
        guard let created = ISO8601Time.parse(createdText) else {
            throw FeedDecodingError(
                field: "createdDateTime",
                reason: "must be an ISO 8601 time with a zone (2025-09-30T10:00:00Z), not \"\(createdText)\"")
        }
        let asset = event.child("Assets")?.childText("mRID")
        let point = event.child("UsagePoint")?.childText("mRID")
        let meterNumber = event.child("Names")?.childText("name")
        for key in ["mRID", "reason", "severity", "issuerID", "issuerTrackingID", "userID"] {
            put(key, event.childText(key))
        }
        put("createdDateTime", createdText)
        put("eventTypeRef", typeRef)
        put("assetMRID", asset)
        put("usagePointMRID", point)
        put("meterNumber", meterNumber)
        let details = event.children("EndDeviceEventDetails").map { detail -> JSONValue in
            .object(["name": .string(detail.childText("name") ?? ""), "value": .string(detail.childText("value") ?? "")])
        }
        if !details.isEmpty { json["details"] = .array(details) }
        if let status = event.child("status") {
            var statusJSON: [String: JSONValue] = [:]
            for key in ["dateTime", "reason", "remark", "value"] {
                if let value = status.childText(key) { statusJSON[key] = .string(value) }
            }
            json["status"] = .object(statusJSON)
        }
        if !header.isEmpty { json["header"] = .object(header) }
        json["rawXML"] = .string(event.xmlText)
        let source: String? = if case .string(let value)? = header["source"] { value } else { nil }
        return try validated(
            mRID: event.childText("mRID"), created: created, typeRef: typeRef, asset: asset, point: point,
            meterNumber: meterNumber, reason: event.childText("reason"), severity: event.childText("severity"),
            source: source, message: .object(json))
    }
}
