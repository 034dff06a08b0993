#!/usr/bin/env bash
# Coverage-guided fuzzing of one feed decoder with the toolchain's libFuzzer.
#
#   scripts/fuzz-decoders.sh FEED [SECONDS]     FEED: scada, onu, kaifa or callcenter (default 300 s)
#
# Builds the decoders with -sanitize=fuzzer (release, in .build-fuzz), seeds the corpus with the
# feed's real samples (FeedSamples), and runs libFuzzer. An input that
# breaks a property (a crash, a hang over 5 s, a refusal without a bounded, printable reason)
# stops the run and is written to .oms/fuzz/FEED/crash-*: add it to
# Tests/OMSFeedsTests/Regressions/FEED/ with the refusal it must get (FuzzTests.regressions).
# Replay inputs without libFuzzer: swift run oms-fuzz-target FILE... (OMS_FUZZ_FEED=FEED).
set -euo pipefail
cd "$(dirname "$0")/.."
feed="${1:?usage: scripts/fuzz-decoders.sh scada|onu|kaifa|callcenter [seconds]}"
seconds="${2:-300}"
work=".oms/fuzz/$feed"
mkdir -p "$work/corpus"

swift build -c release --scratch-path .build-fuzz --product oms-fuzz-target \
    -Xswiftc -sanitize=fuzzer -Xswiftc -DLIBFUZZER
# OMS_FUZZ_SEEDS: the target writes the feed's real samples (FeedSamples) into the corpus first.
OMS_FUZZ_FEED="$feed" OMS_FUZZ_SEEDS="$work/corpus" .build-fuzz/release/oms-fuzz-target "$work/corpus" \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=4096 -max_len=65536 -artifact_prefix="$work/"
