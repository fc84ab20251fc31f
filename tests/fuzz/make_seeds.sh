#!/usr/bin/env bash
# Re-encodes the request seeds (tests/fuzz/seeds/fuzz_request/*.txtpb, protobuf text format)
# into tests/fuzz/corpus/fuzz_request/*.bin after the protocol changed. Needs protoc.
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in tests/fuzz/seeds/fuzz_request/*.txtpb; do
    protoc --proto_path=proto --encode=helpdesk.v1.Request helpdesk/v1/helpdesk.proto <"$f" \
        >"tests/fuzz/corpus/fuzz_request/$(basename "$f" .txtpb).bin"
done
