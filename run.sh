#!/usr/bin/env bash
# weblog's one entry point:
#   ./run.sh          set up .venv if needed, then serve www/ on http://127.0.0.1:$PORT
#   ./run.sh test     set up, then ruff, mypy and trial; the last line is "N passed, N failed"
#   ./run.sh bench    set up, then run the benchmarks under bench/
#   ./run.sh soak     set up, then 10 minutes of load and log rotations (bench/soak.py --help)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.weblog-installed

setup() {
    # Recreate the venv when it is missing or broken; reinstall when pyproject.toml changed.
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        echo "run.sh: creating $VENV" >&2
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
        echo "run.sh: installing weblog and its pinned dependencies into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
        touch "$STAMP"
    fi
}

check_env() {
    # Fail fast, with the reason, on settings the pages would otherwise show as misconfigured.
    local problem
    problem=$("$VENV/bin/python" -c 'from weblog.startup import config_problem; print(config_problem())')
    if [ -n "$problem" ]; then
        echo "run.sh: $problem" >&2
        exit 2
    fi
}

serve() {
    local port=${PORT:-8080}
    mkdir -p var
    check_env
    echo "run.sh: serving www/ on http://127.0.0.1:$port/ (following ${WEBLOG_LOG:-var/access.log}); Ctrl-C stops" >&2
    # one request once it listens, so that it follows the logs (and syslog) from now on
    # ($$: this shell, which exec makes twistd: the request is not waited for once it stopped)
    ( "$VENV/bin/python" -m weblog.wake "http://127.0.0.1:$port" $$ & )  # not twistd's child
    exec "$VENV/bin/twistd" --nodaemon --pidfile= \
        web --path www --listen "tcp:$port:interface=127.0.0.1" --logfile var/access.log
}

run_tests() {
    local failed=0 passed=0 skipped=0 out status
    echo "== ruff" 
    if ! "$VENV/bin/ruff" check lib tests bench www; then failed=$((failed + 1)); fi
    echo "== mypy"
    if ! "$VENV/bin/mypy"; then failed=$((failed + 1)); fi
    echo "== trial"
    out=$(mktemp)
    status=0
    "$VENV/bin/trial" "${@:-tests}" 2>&1 | tee "$out" || status=$?
    # trial's summary: "PASSED (skips=1, successes=40)" or "FAILED (failures=1, errors=2, successes=38)"
    local summary
    summary=$(grep -E '^(PASSED|FAILED)' "$out" | tail -1 || true)
    rm -f "$out"
    count() { sed -n "s/.*[(, ]$1=\([0-9]*\).*/\1/p" <<<"$summary" | head -1; }
    passed=${summary:+$(count successes)}
    passed=${passed:-0}
    local failures errors unexpected
    failures=$(count failures); errors=$(count errors); unexpected=$(count unexpectedSuccesses)
    skipped=$(count skips)
    failed=$((failed + ${failures:-0} + ${errors:-0} + ${unexpected:-0}))
    if [ -z "$summary" ] || [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=$((failed + 1))   # trial itself did not finish
    fi
    echo "${skipped:-0} skipped"
    echo "${passed} passed, ${failed} failed"   # the last line, which CI reads
    [ "$failed" -eq 0 ]
}

run_bench() {
    if [ ! -d bench ] || [ -z "$(ls bench/*.py 2>/dev/null)" ]; then
        echo "run.sh: no benchmarks yet (bench/ is empty)"
        return 0
    fi
    "$VENV/bin/python" bench/run.py "$@"
}

command=${1:-serve}
[ $# -gt 0 ] && shift
case "$command" in
    serve) setup; serve ;;
    test) setup; run_tests "$@" ;;
    bench) setup; run_bench "$@" ;;
    soak) setup; "$VENV/bin/python" bench/soak.py "$@" ;;
    -h|--help|help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "run.sh: unknown command '$command' (use: ./run.sh, ./run.sh test, ./run.sh bench, ./run.sh soak)" >&2; exit 2 ;;
esac
