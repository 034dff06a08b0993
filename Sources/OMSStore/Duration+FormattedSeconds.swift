import Foundation
import OMSDomain

extension Duration {
    /// "5", "2.5": seconds for messages.
    var formattedSeconds: String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}
