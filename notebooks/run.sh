#!/bin/sh
# Execute every notebook headless (as CI does) and fail if any cell raises.
#   sh notebooks/run.sh [notebook.ipynb ...]      (default: notebooks/*.ipynb; run from anywhere)
# Executed copies go to $OUT (default build/notebooks); the notebooks in git keep no outputs.
# Uses Debian's Python: the python3 first on PATH may be a bare pyenv build without jupyter/numpy.
# The kernel is pinned to the same interpreter with a private kernelspec (JUPYTER_PATH beats any
# user-level "python3" kernelspec that might point elsewhere).
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-build/notebooks}
TIMEOUT=${NB_TIMEOUT:-120}          # seconds per cell

if ! "$PYTHON" -c 'import nbconvert, ipykernel, numpy, matplotlib' 2>/dev/null; then
    echo "notebooks: $PYTHON lacks nbconvert/ipykernel/numpy/matplotlib" >&2
    echo "  (Debian: apt-get install jupyter-nbconvert python3-ipykernel python3-numpy python3-matplotlib)" >&2
    exit 1
fi
mkdir -p "$OUT/jupyter/kernels/python3"
cat > "$OUT/jupyter/kernels/python3/kernel.json" <<EOF
{"argv": ["$PYTHON", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
 "display_name": "Python 3 (posttrain.h notebooks)", "language": "python"}
EOF
export JUPYTER_PATH="$PWD/$OUT/jupyter"
export PYDEVD_DISABLE_FILE_VALIDATION=1   # quiets ipykernel's debugger warning about frozen modules

[ $# -gt 0 ] || set -- notebooks/*.ipynb
failed=""
for nb in "$@"; do
    start=$(date +%s)
    if "$PYTHON" -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout="$TIMEOUT" \
            --ExecutePreprocessor.kernel_name=python3 --output-dir "$OUT" "$nb"; then
        echo "notebooks: $nb OK ($(( $(date +%s) - start )) s)"
    else
        echo "notebooks: $nb FAILED" >&2
        failed="$failed $nb"
    fi
done
[ -z "$failed" ] || { echo "notebooks: failed:$failed" >&2; exit 1; }
