import Foundation

/// Decodes call-center tickets: one object, an array, or newline-delimited JSON.
public enum CallCenterDecoder {
    public static func decodeBatch(_ body: [UInt8]) -> [Result<CallCenterTicket, FeedDecodingError>] {
        FeedBatch.decode(body, with: decode)
    }

    public static func decode(_ message: JSONValue) throws(FeedDecodingError) -> CallCenterTicket {
        var ticket = message
        if case .object(let outer) = message, case .object(let envelope)? = outer["message"],
           case .object(let request)? = envelope["request"], case .string(let body)? = request["body"] {
            let bytes = ArraySlice(body.utf8)
            if JSONNesting.firstExcess(in: bytes, maximumDepth: FeedBatch.maximumDepth) != nil {
                throw FeedDecodingError(
                    field: "message.request.body", reason: "nests arrays and objects deeper than \(FeedBatch.maximumDepth) levels")
            }
            do {
                ticket = try JSONValue.parse(Data(bytes))
            } catch {
                throw FeedDecodingError(field: "message.request.body", reason: FeedBatch.notJSON(Data(bytes)))
            }
            if let path = ticket.pathHoldingNUL() {
                throw FeedDecodingError(
                    field: "message.request.body" + (path.isEmpty ? "" : ".\(path)"),
                    reason: "holds the NUL character (U+0000), which cannot be stored")
            }
        }
        let fields = try FieldReader(ticket)
        guard let customer = try fields.optionalObject("customer") else {
            throw FeedDecodingError(field: "customer", reason: "must be an object with \"meterNumber\", \"phone\" or \"customerId\"")
        }
        let meterNumber = try customer.optionalText("meterNumber")
        let phone = try customer.optionalText("phone")
        let customerID = try customer.optionalText("customerId")
        guard meterNumber != nil || phone != nil || customerID != nil else {
            throw FeedDecodingError(field: "customer", reason: "needs \"meterNumber\", \"phone\" or \"customerId\"")
        }
        return CallCenterTicket(
            ticketID: try fields.requiredText("ticketId"),
            timestamp: try fields.requiredTime("timestamp"),
            meterNumber: meterNumber,
            phone: phone,
            address: try customer.optionalText("address"),
            customerID: customerID,
            troubleCode: try fields.optionalText("troubleCode"),
            notes: try fields.optionalText("notes"),
            message: message)
    }
}
