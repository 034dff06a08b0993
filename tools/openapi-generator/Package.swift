// swift-tools-version:6.2
// The OpenAPI generator, as a tool of its own: `scripts/generate-api.sh` runs it to turn
// Sources/OMSAPI/openapi.json into the committed code in Sources/OMSAPI/Generated. Kept out of
// the main package so that a build of the service never builds the generator.
import PackageDescription

let package = Package(
    name: "openapi-generator-tool",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
    ]
)
