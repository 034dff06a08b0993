/// What an API key may do. `admin` may do everything.
public enum APIScope: String, CaseIterable, Sendable, Codable {
    case ingestSCADA = "ingest:scada"
    case ingestONU = "ingest:onu"
    case ingestKAIFA = "ingest:kaifa"
    case ingestCallCenter = "ingest:callcenter"
    case read
    /// Operator actions on outages: acknowledge, confirm, cancel, merge, split, crew, ETR, restore, close.
    case operate
    case admin

    /// Whether a key with `scopes` may do what needs this scope.
    public func isGranted(by scopes: some Collection<APIScope>) -> Bool {
        scopes.contains(self) || scopes.contains(.admin)
    }
}
