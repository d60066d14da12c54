#!/usr/bin/env bash
# The README's test command, and what CI runs (.ci/run): installs what the tests need and this machine is missing
# (.ci/install-infrastructure.sh: RabbitMQ, Azurite, Chromium, a font; apt-get needs root or sudo), then runs every test.
#   ./test.sh                                        the whole solution
#   ./test.sh --filter "FullyQualifiedName~Storage"  arguments go on to dotnet test
#   ./test.sh tests/CremaD.Storage.Tests [...]       one project (or solution) instead of CremaD.sln
# Ends with one line of totals over all test assemblies: "tests: N passed, N failed, N skipped".
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$repo_root"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: needs the .NET 10 SDK (https://dotnet.microsoft.com/download); dotnet is not on PATH" >&2
  exit 1
fi

bash .ci/install-infrastructure.sh

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
# Belt and braces: MassTransit 8.5 sends usage telemetry unless told not to (the code disables it too).
export MASSTRANSIT_USAGE_TELEMETRY=false

target=CremaD.sln
if [ "$#" -gt 0 ] && [[ "$1" != -* ]] && [ -e "$1" ]; then
  target="$1"
  shift
fi

# The whole log is kept (CI prints only its end): the path is printed last.
log_dir="${TMPDIR:-/tmp}/cremad-test-logs"
mkdir -p "$log_dir"
log="$log_dir/test-$(date -u +%Y%m%dT%H%M%SZ)-$$.log"
set +e
# Normal verbosity: every test by name, with the reason of any skip.
dotnet test "$target" --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# CI shows only the end of this output: repeat each failed test there, with the start of its error message and stack.
awk '
  # dotnet test names a failed test as "  Failed Namespace.Class.Method(args) [duration]" (logs say "Failed to ...").
  /^  Failed [A-Za-z0-9_]+\.[^ ]*.*\[[^]]*s\]$/ { n++; keep = 25; print "" }
  keep > 0 { print; keep-- }
  END { if (n) printf "(%d failed tests repeated above)\n", n }
' "$log" | tail -n 400

# One closing line with the totals over all test assemblies (each prints its own Passed:/Failed:/Skipped:).
awk '
  /^[[:space:]]+Passed:[[:space:]]+[0-9]+[[:space:]]*$/  { passed += $2 }
  /^[[:space:]]+Failed:[[:space:]]+[0-9]+[[:space:]]*$/  { failed += $2 }
  /^[[:space:]]+Skipped:[[:space:]]+[0-9]+[[:space:]]*$/ { skipped += $2; seen = 1 }
  /^[[:space:]]+Passed:|^[[:space:]]+Failed:/ { seen = 1 }
  END { if (seen) printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped }
' "$log"
echo "full log: $log"
exit "$status"
