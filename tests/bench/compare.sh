#!/usr/bin/env bash
# compare.sh - posttrain.h (build/bench_model) against a plain PyTorch Llama (tests/bench/torch_ref.py)
# on the same workloads, in the same run, then one table and the target checks.
#
#   usage: tests/bench/compare.sh            (from anywhere; expects build/bench_model, builds it if missing)
#   env:   THREADS="1 2"   thread counts for both sides
#          PYTHON=/usr/bin/python3
#          BENCH_MODEL=build/bench_model
#
# PyTorch gets the setup a fair peer would give it, for its own process only:
#   - OpenMP OpenBLAS (Debian libopenblas0-openmp) first on LD_LIBRARY_PATH; the BLAS actually
#     mapped into the process is read back from /proc/self/maps and printed
#   - ATEN_CPU_CAPABILITY=avx512 when the CPU has avx512f (else avx2)
#   - glibc malloc told not to hand large buffers back to the OS every step
#     (MALLOC_MMAP_THRESHOLD_=4 GiB, MALLOC_TRIM_THRESHOLD_=1 TiB; glibc 2.36 accepts both)
# Both sides run with OMP_WAIT_POLICY=passive. This is a report, not a test: it exits 0 on MISS.
set -u
cd "$(dirname "$0")/../.." || exit 1
THREADS=${THREADS:-"1 2"}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH_MODEL=${BENCH_MODEL:-build/bench_model}
TMAX=$(echo $THREADS | tr ' ' '\n' | sort -n | tail -1)

[ -x "$BENCH_MODEL" ] || make "$BENCH_MODEL" >/dev/null || { echo "compare.sh: cannot build $BENCH_MODEL"; exit 0; }

echo "== load before: $(uptime | sed 's/.*load average/load average/') ($(nproc) cpus)"
echo "== ours: OMP_WAIT_POLICY=passive $BENCH_MODEL all $THREADS"
OURS=$(OMP_WAIT_POLICY=passive "$BENCH_MODEL" all $THREADS)
echo "$OURS"

TORCH=""
if ! "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! SKIPPED: PyTorch columns -- '$PYTHON -c \"import torch\"' failed (apt-get install python3-torch)"
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
else
    OBLAS=""
    if command -v dpkg >/dev/null 2>&1; then
        OBLAS=$(dpkg -L libopenblas0-openmp 2>/dev/null | grep -E '/libopenblas\.so\.0$' | head -1)
        OBLAS=${OBLAS:+$(dirname "$OBLAS")}
    fi
    [ -n "$OBLAS" ] || echo "!!! WARNING: libopenblas0-openmp not installed; PyTorch uses whatever libblas.so.3 resolves to"
    CAP=avx2
    grep -qw avx512f /proc/cpuinfo 2>/dev/null && CAP=avx512
    echo "== PyTorch: LD_LIBRARY_PATH=${OBLAS:-<unchanged>} ATEN_CPU_CAPABILITY=$CAP MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=1099511627776 OMP_WAIT_POLICY=passive $PYTHON tests/bench/torch_ref.py all $THREADS"
    TORCH=$(env ${OBLAS:+LD_LIBRARY_PATH="$OBLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"} \
            ATEN_CPU_CAPABILITY=$CAP \
            MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=1099511627776 \
            OMP_WAIT_POLICY=passive \
            "$PYTHON" tests/bench/torch_ref.py all $THREADS)
    echo "$TORCH"
    if ! echo "$TORCH" | grep -q '^torch '; then
        echo "!!! SKIPPED: PyTorch columns -- torch_ref.py produced no results"
        TORCH=""
    elif [ -n "$OBLAS" ] && ! echo "$TORCH" | grep '^torch_info' | grep -q "blas=$OBLAS/"; then
        echo "!!! WARNING: PyTorch did not map the OpenMP OpenBLAS from $OBLAS (see blas= above)"
    fi
fi
echo "== load after: $(uptime | sed 's/.*load average/load average/')"
echo

# one table: ours vs PyTorch and ratio ours/PyTorch per workload, RSS, target checks
{ echo "$OURS" | sed 's/^/OURS /'; echo "$TORCH" | sed 's/^/TORCH /'; } | awk -v tmax="$TMAX" '
function ok(x) { return x != "" && x != "-" && x != "nan" }
function ratio(a, b) { return (ok(a) && ok(b) && b > 0) ? sprintf("%.2fx", a / b) : "-" }
function num(x) { return ok(x) ? sprintf("%.0f", x) : "-" }
function kv(s,   i) { i = index(s, "="); return substr(s, i + 1) }
$1 == "OURS" && $3 ~ /^[0-9]+$/ && NF >= 9 {     # every config row bench_model prints (stories: no train, dpo, rm)
    k = $2 " " $3; if (!(k in seen)) { order[++n] = k; seen[k] = 1 }
    otr[k] = $4; og1[k] = $5; og16[k] = $6; odpo[k] = $7; orm[k] = $8; orss[$2] = $9
}
$1 == "TORCH" && $2 == "torch" {
    k = $3 " " kv($4); if (!(k in seen)) { order[++n] = k; seen[k] = 1 }
    for (i = 5; i <= NF; i++) { split($i, p, "="); v[p[1]] = p[2] }
    ttr[k] = v["train"]; tg1[k] = v["gen1"]; tg16[k] = v["gen16"]; tdpo[k] = v["dpo"]; trm[k] = v["rm"]
    trss[$3] = v["rss_mb"]; tbase[$3] = v["rss_base_mb"]
    have_torch = 1
}
$1 == "TORCH" && $2 == "torch_info" { for (i = 3; i <= NF; i++) { split($i, p, "="); info[p[1]] = p[2] } }
END {
    printf "%-7s %3s | %-24s | %-24s | %-24s | %-24s | %-24s\n", "", "", "    train tok/s", "    gen b1 tok/s",
        "    gen b16 tok/s", "    dpo tok/s", "    rm tok/s"
    printf "%-7s %3s", "config", "thr"
    for (j = 0; j < 5; j++) printf " | %8s %8s %6s", "ours", "pytorch", "ratio"
    printf "\n"
    for (j = 1; j <= n; j++) {
        k = order[j]; split(k, c, " ")
        printf "%-7s %3s", c[1], c[2]
        cell(otr[k], ttr[k]); cell(og1[k], tg1[k]); cell(og16[k], tg16[k]); cell(odpo[k], tdpo[k]); cell(orm[k], trm[k])
        printf "\n"
    }
    if (!have_torch) print "PyTorch columns: SKIPPED (no PyTorch results)"
    else printf "PyTorch %s, BLAS %s, OpenMP %s, ATen CPU capability %s, AdamW %s\n", info["version"], info["blas"], info["omp"], info["cpu_capability"], info["opt"]
    printf "peak RSS, small config: ours %s MB (bench_model process peak: model+arena+KV cache, train and generate)", orss["small"] == "" ? "-" : orss["small"]
    if (have_torch) printf " | PyTorch %s MB (training steps in a fresh process; %s MB of it is python+libtorch after import)", trss["small"], tbase["small"]
    printf "\n"
    print ""
    print "targets (report only):"
    check("training >= 1.5x PyTorch on tiny (" tmax " threads)", otr["tiny " tmax], ttr["tiny " tmax], 1.5)
    check("training >= 1.0x PyTorch on small (" tmax " threads)", otr["small " tmax], ttr["small " tmax], 1.0)
    check("DPO step >= 1.5x PyTorch on tiny (" tmax " threads)", odpo["tiny " tmax], tdpo["tiny " tmax], 1.5)
    check("batch-16 generation >= 6x batch-1 tokens/s (ours, tiny, " tmax " threads)", og16["tiny " tmax], og1["tiny " tmax], 6.0)
    check("batch-16 generation >= 6x batch-1 tokens/s (ours, small, " tmax " threads)", og16["small " tmax], og1["small " tmax], 6.0)
}
function cell(a, b) { printf " | %8s %8s %6s", num(a), num(b), ratio(a, b) }
function check(what, a, b, need) {
    if (!ok(a) || !ok(b) || b <= 0) printf "  SKIPPED  %s (no result)\n", what
    else printf "  %-7s  %s: %.2fx\n", (a / b >= need ? "PASS" : "MISS"), what, a / b
}'
exit 0
