#!/usr/bin/env bash
# Regenerates the API's types and server protocol from the OpenAPI document (spec-first):
#
#   scripts/generate-api.sh
#
# Sources/OMSAPI/openapi.json is the source; swift-openapi-generator (tools/openapi-generator,
# built in .build-openapi) writes Sources/OMSAPI/Generated/, which is committed so that a build of
# the service never runs the generator. The document's SHA-256 is recorded next to the code; a
# test (OpenAPITests) fails when the document changed and this script was not run.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --package-path tools/openapi-generator --scratch-path .build-openapi \
    --product swift-openapi-generator
rm -rf Sources/OMSAPI/Generated
mkdir -p Sources/OMSAPI/Generated
.build-openapi/release/swift-openapi-generator generate Sources/OMSAPI/openapi.json \
    --config Sources/OMSAPI/openapi-generator-config.yaml --output-directory Sources/OMSAPI/Generated
sha256sum Sources/OMSAPI/openapi.json | cut -d' ' -f1 > Sources/OMSAPI/Generated/openapi.json.sha256
wc -l Sources/OMSAPI/Generated/*.swift
