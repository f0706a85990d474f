#!/usr/bin/env bash
# The pre-upgrade job's verdict against the last good nightly: the candidate run's summary,
# then `netconform diff` from the baseline's results, appended to the job summary (stdout
# outside GitHub). Exits 1 on a regression (a check or a cell got worse), 0 without a
# baseline (the suites' own step already judged the run alone).
#   netconform baseline-diff BASELINE_DIR REPORTS_DIR
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BASELINE_DIR REPORTS_DIR" >&2
  exit 2
fi
baseline_dir=$1
reports_dir=$2
summary=${GITHUB_STEP_SUMMARY:-/dev/stdout}
netconform=${NETCONFORM:-netconform}

newest_results() {
  [ -d "$1" ] || return 0
  find "$1" -name results.json -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-
}

candidate=$(newest_results "$reports_dir")
if [ -z "$candidate" ]; then
  echo "no results.json under $reports_dir: the suites did not get to run" | tee -a "$summary" >&2
  exit 1
fi
cat "$(dirname "$candidate")/summary.md" >> "$summary"

baseline=$(newest_results "$baseline_dir")
if [ -z "$baseline" ]; then
  printf '\n_No successful nightly to compare with: no baseline diff._\n' >> "$summary"
  exit 0
fi
status=0
changes=$("$netconform" diff "$baseline" "$candidate") || status=$?
if [ "$status" -gt 1 ]; then
  echo "netconform diff failed (exit $status): $changes" | tee -a "$summary" >&2
  exit "$status"
fi
fence='```'
printf '\n### Against the last good nightly\n\n%s\n%s\n%s\n' "$fence" "$changes" "$fence" >> "$summary"
exit "$status"
