import OMSAPI

/// A setting changed by `oms_setting_set`.
public struct SettingChange: Sendable {
    /// The setting as stored now, with `previous_value`.
    public var setting: Components.Schemas.Setting
    /// The new and the replaced value, as JSON text (for the audit line).
    public var value: String
    public var previousValue: String
}
