import Foundation

/// A customer trouble ticket:
/// `{"ticketId", "timestamp", "customer": {"phone", "meterNumber", "address", "customerId"?},
/// "troubleCode"?, "notes"}`, also as the prototype's gateway wrapped it (the ticket
/// JSON as a string in `message.request.body`).
public struct CallCenterTicket: Sendable, Equatable {
    public var ticketID: String
    public var timestamp: Date
    /// The meter number as the customer gave it (matched loosely: case, separators, leading zeros).
    public var meterNumber: String?
    public var phone: String?
    public var address: String?
    public var customerID: String?
    public var troubleCode: String?
    public var notes: String?
    /// The message as received (wrapper included): what is stored as `raw`.
    public var message: JSONValue
}
