#!/usr/bin/env bash
# Memory-error check of rgrad's core under valgrind: not part of the main CI (it takes minutes).
# Exits non-zero on any invalid read/write or use of uninitialised memory that the suppressions
# in valgrind.supp (CPython/numpy/loader noise only) do not cover. Leaks are not errors here:
# CPython deliberately keeps interned objects alive at exit; flat memory is tested in
# tests/test_memory_long.py instead.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq valgrind
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq valgrind
    fi
fi

# PYTHONMALLOC=malloc sends every Python allocation through malloc so valgrind can see it
# (pymalloc's arenas otherwise look like one big block and hide errors).
export PYTHONMALLOC=malloc
# one thread each for rayon/BLAS: valgrind serialises threads anyway, and fewer of them keep the
# run shorter and the reports deterministic
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

start=$(date +%s)
# python3 may be a pyenv shim (a shell script); valgrind must run the interpreter itself
py="$(python3 -c "import sys; print(sys.executable)")"
# This interpreter (CPython 3.11) alone reports hundreds of "uninitialised value" errors:
# _PyLong_New leaves ob_digit[0] of a zero-size int unset and maybe_small_long multiplies it by
# 0, so the small-int pointer it returns is tainted and every later use of that object is
# reported (fixed in 3.12). No narrow suppression can follow that cascade, so definedness checks
# are off by default; invalid reads/writes, use-after-free and bad frees -- the errors the unsafe
# pointer code in rgrad's core can make -- are still all reported. VALGRIND_UNDEF=1 turns them back
# on (useful with CPython >= 3.12).
undef=no
if [ "${VALGRIND_UNDEF:-0}" = 1 ]; then undef=yes; fi
valgrind --error-exitcode=1 --errors-for-leak-kinds=none --leak-check=no \
    --undef-value-errors="$undef" --num-callers=30 \
    --suppressions="$here/valgrind.supp" \
    "$py" "$here/valgrind_workload.py" "$@"
echo "valgrind run clean in $(( $(date +%s) - start )) s"
