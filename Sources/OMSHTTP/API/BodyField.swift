/// A refused field of a request body (400 naming it, answered by `ProblemMiddleware`).
enum BodyField {
    static func invalid(_ field: String?, _ reason: String) -> InvalidInput {
        InvalidInput(field, reason, title: "Invalid request body")
    }
}
