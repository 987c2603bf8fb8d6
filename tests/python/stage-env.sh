# Sourced by the make-check scripts here: puts the staged build first on
# PYTHONPATH and, in a sanitizer build, preloads the ASan runtime (an
# ASan-built extension in a plain interpreter needs it first; CPython's own
# allocations at exit are not ours to report).
: "${PYTHON:=python3}" "${PYLOOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
PYTHONPATH="$PYLOOP_STAGE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
if [ "${PYLOOP_SANITIZERS:-}" = yes ]; then
    LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so)"
    ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    PYTHONMALLOC=malloc
    export LD_PRELOAD ASAN_OPTIONS PYTHONMALLOC
fi
