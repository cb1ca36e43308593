#!/bin/sh
# Build the example service with the machine's go, run it with GOTRACEBACK=crash and keep what
# the crash leaves in examples/crash/out/: the binary (crash), the core (core), the runtime's
# traceback of every goroutine (traceback.txt) and the program's stdout (stdout.txt).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$here/out"
(cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -buildvcs=false -o out/crash .)
cd "$repo"
python3 -m tests.harness.capture --out "$here/out" "$here/out/crash"
echo "binary:    $here/out/crash"
echo "core:      $here/out/core"
echo "traceback: $here/out/traceback.txt"
