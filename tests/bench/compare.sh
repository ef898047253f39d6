#!/usr/bin/env bash
# compare.sh - posttrain.h (build/bench_model) against a plain PyTorch Llama (tests/bench/torch_ref.py)
# on the same workloads, alternating the two over a few rounds, then one table of medians and the
# target checks.
#
#   usage: tests/bench/compare.sh            (from anywhere; expects build/bench_model, builds it if missing)
#   env:   THREADS="1 2"   thread counts for both sides (bench_model takes at most two)
#          ROUNDS=3        rounds of [ours, PyTorch]; at least 1
#          ALTERNATE=1     1: ours first in odd rounds, PyTorch first in even rounds; 0: ours always first
#          CONFIG=all      first argument of both sides (all, tiny, small; bench_model also knows stories)
#          PYTHON=/usr/bin/python3
#          BENCH_MODEL=build/bench_model
#          TORCH_REF=tests/bench/torch_ref.py
#
# Why rounds: the machine is shared and has 2 cores, so another process can take a core for part of a
# run and make either side look slow. Each round runs `bench_model $CONFIG $THREADS` and
# `torch_ref.py $CONFIG $THREADS` once each, back to back (the order alternates, so neither side always
# runs on a machine the other just warmed or cooled). Every cell (config x threads x workload) of the
# table is the MEDIAN over the rounds of each side, and the ratio is the ratio of the two medians.
#
# Load check: `bench_model probe` measures the FMA peak now on 1 and 2 threads (~0.6 s). It runs once
# before the first round and after every run. The reference is the best probe of the whole session per
# thread count (the pre-run probe, raised by any later probe that beats it, so a reference taken while
# the machine was busy cannot hide a busy run). A run whose following probe is below 85% of the
# reference on either thread count is "busy". A ratio is marked
#   *  when that cell's values across rounds spread by more than 15% ((max - min) / median) on either side
#   !  when a value that went into it (either side) came from a busy run
# and a target whose cells are marked says "(load moved: rerun)". Per round, one line gives the probes,
# the share of the machine's CPU time that other processes used during each run (/proc/stat busy time
# minus our own child's CPU time; informational), steal time and the load average. A note follows when
# even the best 2-thread probe is under 1.6x the best 1-thread one (a core taken for the whole session,
# which marks relative to the best probe cannot see). Targets use the medians at the largest thread count.
#
# PyTorch gets the setup a fair peer would give it, for its own process only:
#   - OpenMP OpenBLAS (Debian libopenblas0-openmp) first on LD_LIBRARY_PATH; the BLAS actually
#     mapped into the process is read back from /proc/self/maps and printed
#   - ATEN_CPU_CAPABILITY=avx512 when the CPU has avx512f (else avx2)
#   - glibc malloc told not to hand large buffers back to the OS every step
#     (MALLOC_MMAP_THRESHOLD_=4 GiB, MALLOC_TRIM_THRESHOLD_=1 TiB; glibc 2.36 accepts both)
# Both sides run with OMP_WAIT_POLICY=passive. This is a report, not a test: it exits 0 on MISS.
#
# RL (CONFIG all or tiny): both sides also print rows for the tiny model with 8 prompts x G = 8 and 16
# completions of 48 new tokens (no stop token fires): rollout tokens/s (generation alone) and a whole
# GRPO step in generated tokens/s (rollout, reference log-probs, loss, backward, AdamW), with the
# step's split into generation / log-probs / update. They get a second table, marked like the first.
set -u
cd "$(dirname "$0")/../.." || exit 1
THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-3}
ALTERNATE=${ALTERNATE:-1}
CONFIG=${CONFIG:-all}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH_MODEL=${BENCH_MODEL:-build/bench_model}
TORCH_REF=${TORCH_REF:-tests/bench/torch_ref.py}
case $ROUNDS in ''|*[!0-9]*) echo "compare.sh: ROUNDS=$ROUNDS is not a number; using 3"; ROUNDS=3 ;; esac
[ "$ROUNDS" -ge 1 ] || ROUNDS=1
TMAX=$(echo $THREADS | tr ' ' '\n' | sort -n | tail -1)
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

[ -x "$BENCH_MODEL" ] || make "$BENCH_MODEL" >/dev/null || { echo "compare.sh: cannot build $BENCH_MODEL"; exit 0; }

TMPD=$(mktemp -d) || exit 0
trap 'rm -rf "$TMPD"' EXIT
DATA=$TMPD/data   # tagged lines for the summary: OURS/TORCH <round> <output line>, PROBE, RUN, LOAD
: > "$DATA"

# --- PyTorch setup (as before the rounds existed) -------------------------------------------------
HAVE_TORCH=0
if ! "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! SKIPPED: PyTorch columns -- '$PYTHON -c \"import torch\"' failed (apt-get install python3-torch)"
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
else
    HAVE_TORCH=1
    OBLAS=""
    if command -v dpkg >/dev/null 2>&1; then
        OBLAS=$(dpkg -L libopenblas0-openmp 2>/dev/null | grep -E '/libopenblas\.so\.0$' | head -1)
        OBLAS=${OBLAS:+$(dirname "$OBLAS")}
    fi
    [ -n "$OBLAS" ] || echo "!!! WARNING: libopenblas0-openmp not installed; PyTorch uses whatever libblas.so.3 resolves to"
    CAP=avx2
    grep -qw avx512f /proc/cpuinfo 2>/dev/null && CAP=avx512
fi

run_ours() { OMP_WAIT_POLICY=passive "$BENCH_MODEL" "$CONFIG" $THREADS; }
run_torch() {
    env ${OBLAS:+LD_LIBRARY_PATH="$OBLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"} \
        ATEN_CPU_CAPABILITY=$CAP \
        MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=1099511627776 \
        OMP_WAIT_POLICY=passive \
        "$PYTHON" "$TORCH_REF" "$CONFIG" $THREADS
}
# "peak1 peak2" now, or "- -" when this bench_model has no probe
probe() { OMP_WAIT_POLICY=passive "$BENCH_MODEL" probe 2>/dev/null |
          awk '$1 == "probe" { split($2, a, "="); split($3, b, "="); print a[2], b[2]; f = 1 } END { if (!f) print "- -" }'; }
# CPU accounting snapshot into S_BUSY S_STEAL S_TOTAL (jiffies, all cpus) and S_CHILD (seconds of CPU
# used by our finished children). `times` must run in this shell, not in a $(...) subshell.
snap() {
    times > "$TMPD/times"
    read -r S_BUSY S_STEAL S_TOTAL S_CHILD < <(awk '
        FILENAME == "/proc/stat" && $1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8; steal = $9; tot = $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }
        FILENAME != "/proc/stat" && FNR == 2 { for (i = 1; i <= 2; i++) { s = $i; sub(/s$/, "", s); gsub(/,/, ".", s); split(s, a, "m"); c += a[1] * 60 + a[2] } }
        END { print busy + 0, steal + 0, tot + 0, c + 0 }' /proc/stat "$TMPD/times" 2>/dev/null)
}

# measure <ours|torch> <round>: one run, its output (shown and kept), then the probe after it
measure() {
    local side=$1 r=$2 out b0 st0 t0 c0 others steal p
    if [ "$side" = ours ]; then
        echo "== round $r/$ROUNDS, ours: OMP_WAIT_POLICY=passive $BENCH_MODEL $CONFIG $THREADS"
    else
        echo "== round $r/$ROUNDS, PyTorch: LD_LIBRARY_PATH=${OBLAS:-<unchanged>} ATEN_CPU_CAPABILITY=$CAP MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=1099511627776 OMP_WAIT_POLICY=passive $PYTHON $TORCH_REF $CONFIG $THREADS"
    fi
    snap; b0=$S_BUSY st0=$S_STEAL t0=$S_TOTAL c0=$S_CHILD
    if [ "$side" = ours ]; then out=$(run_ours); else out=$(run_torch); fi
    snap
    read -r others steal < <(awk -v b="$((S_BUSY - b0))" -v st="$((S_STEAL - st0))" -v t="$((S_TOTAL - t0))" \
        -v c="$S_CHILD" -v c0="$c0" -v hz="$HZ" 'BEGIN {
            if (t <= 0) { print "-", "-"; exit }
            o = 100 * (b / hz - (c - c0)) / (t / hz); if (o < 0) o = 0
            printf "%.0f %.0f\n", o, 100 * st / t }')
    echo "$out" | sed 's/^/   /'
    if [ "$side" = ours ]; then
        echo "$out" | sed "s/^/OURS $r /" >> "$DATA"
    else
        echo "$out" | sed "s/^/TORCH $r /" >> "$DATA"
        echo "$out" | grep -q '^torch ' || echo "!!! round $r: torch_ref.py produced no results"
    fi
    p=$(probe)
    echo "   probe after: peak1/peak2 = ${p/ //} GFLOP/s; other processes used ${others}% of the CPU time during the run, steal ${steal}%"
    echo "PROBE $r $side $p" >> "$DATA"
    echo "RUN $r $side $others $steal" >> "$DATA"
}

echo "== load before: $(uptime | sed 's/.*load average/load average/') ($(nproc) cpus)"
P0=$(probe)
echo "== reference probe: peak1/peak2 = ${P0/ //} GFLOP/s"
echo "PROBE 0 ref $P0" >> "$DATA"
for r in $(seq 1 "$ROUNDS"); do
    if [ "$HAVE_TORCH" = 1 ] && [ "$ALTERNATE" = 1 ] && [ $((r % 2)) = 0 ]; then
        measure torch "$r"; measure ours "$r"; first=torch
    else
        measure ours "$r"; [ "$HAVE_TORCH" = 1 ] && measure torch "$r"; first=ours
    fi
    echo "LOAD $r $first $(cut -d' ' -f1-3 /proc/loadavg)" >> "$DATA"
done
echo "== load after: $(uptime | sed 's/.*load average/load average/')"
if [ "$HAVE_TORCH" = 1 ]; then
    if ! grep -q '^TORCH [0-9]* torch ' "$DATA"; then
        echo "!!! SKIPPED: PyTorch columns -- torch_ref.py produced no results"
    elif [ -n "$OBLAS" ] && ! grep '^TORCH [0-9]* torch_info' "$DATA" | grep -q "blas=$OBLAS/"; then
        echo "!!! WARNING: PyTorch did not map the OpenMP OpenBLAS from $OBLAS (see blas= above)"
    fi
fi
echo

# the summary: per-round load lines, one table of medians (ours, PyTorch, ratio of medians, marks),
# RSS, the marked cells in detail, target checks
awk -v tmax="$TMAX" -v rounds="$ROUNDS" -v lim_spread=0.15 -v lim_probe=0.85 '
function ok(x) { return x != "" && x != "-" && x != "nan" && x != "inf" }
function kv(s,   i) { i = index(s, "="); return substr(s, i + 1) }
function addrow(k) { if (!(k in seen)) { order[++n] = k; seen[k] = 1 } }
function addrl(k) { if (!(k in seen)) { rlorder[++nrl] = k; seen[k] = 1 } }
function add(side, k, w, v, r) { if (ok(v)) { vals[side, k, w] = vals[side, k, w] " " v; rnds[side, k, w] = rnds[side, k, w] " " r } }
# stats(side, k, w): sets MED (median or ""), SPR (relative spread), BUSY (busy rounds, " 2 3"), LIST (values)
function stats(side, k, w,    m, a, rr, i, j, t) {
    MED = ""; SPR = 0; BUSY = ""; LIST = ""
    m = split(vals[side, k, w], a, " "); split(rnds[side, k, w], rr, " ")
    if (m == 0) return
    for (i = 1; i <= m; i++) { LIST = LIST (i > 1 ? " " : "") sprintf("%.0f", a[i]); if (busy[side, rr[i]]) BUSY = BUSY " " rr[i] }
    for (i = 2; i <= m; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    MED = (m % 2) ? a[(m + 1) / 2] + 0 : (a[m / 2] + a[m / 2 + 1]) / 2
    SPR = MED > 0 ? (a[m] - a[1]) / MED : 0
}
# mark(side, k, w): "*" and/or "!" for one side of one cell
function mark(side, k, w,   s) { stats(side, k, w); s = ""; if (SPR > lim_spread) s = "*"; if (BUSY != "") s = s "!"; return s }
function marks(k, w,   s, t, i) { s = mark("o", k, w) mark("t", k, w); t = ""; if (index(s, "*")) t = "*"; if (index(s, "!")) t = t "!"; return t }
function med(side, k, w) { stats(side, k, w); return MED }
function num(x) { return ok(x) ? sprintf("%.0f", x) : "-" }
$1 == "OURS" && $4 ~ /^[0-9]+$/ && NF >= 10 {     # every config row bench_model prints (stories: no train, dpo, rm)
    r = $2; k = $3 " " $4; addrow(k)
    for (w = 1; w <= 5; w++) add("o", k, w, $(4 + w), r)
    if (ok($10) && $10 + 0 > orss[$3] + 0) orss[$3] = $10
}
$1 == "TORCH" && $3 == "torch" {
    r = $2; k = $4 " " kv($5); addrow(k); delete v
    for (i = 6; i <= NF; i++) { split($i, p, "="); v[p[1]] = p[2] }
    add("t", k, 1, v["train"], r); add("t", k, 2, v["gen1"], r); add("t", k, 3, v["gen16"], r)
    add("t", k, 4, v["dpo"], r); add("t", k, 5, v["rm"], r)
    if (ok(v["rss_mb"]) && v["rss_mb"] + 0 > trss[$4] + 0) trss[$4] = v["rss_mb"]
    if (ok(v["rss_base_mb"])) tbase[$4] = v["rss_base_mb"]
    have_torch = 1
}
$1 == "OURS" && $3 == "rl" && $5 ~ /^[0-9]+$/ {   # rl config threads G rollout grpo gen logprob update length
    r = $2; k = "rl " $4 " " $5 " " $6; addrl(k)
    for (w = 1; w <= 6; w++) add("o", k, w, $(6 + w), r)
}
$1 == "TORCH" && $3 == "torch_rl" {
    r = $2; delete v
    for (i = 5; i <= NF; i++) { split($i, p, "="); v[p[1]] = p[2] }
    k = "rl " $4 " " v["threads"] " " v["G"]; addrl(k)
    add("t", k, 1, v["rollout"], r); add("t", k, 2, v["grpo"], r); add("t", k, 3, v["gen"], r)
    add("t", k, 4, v["logprob"], r); add("t", k, 5, v["update"], r); add("t", k, 6, v["length"], r)
}
$1 == "TORCH" && $3 == "torch_info" { for (i = 4; i <= NF; i++) { split($i, p, "="); info[p[1]] = p[2] } }
$1 == "PROBE" {
    side = $3 == "ours" ? "o" : $3 == "torch" ? "t" : "ref"
    pr1[$2, side] = $4; pr2[$2, side] = $5
    if (ok($4) && $4 + 0 > ref1) ref1 = $4 + 0
    if (ok($5) && $5 + 0 > ref2) ref2 = $5 + 0
    if (side == "ref") { p01 = $4; p02 = $5 }
}
$1 == "RUN" { side = $3 == "ours" ? "o" : "t"; oth[$2, side] = $4; stl[$2, side] = $5; ran[$2, side] = 1 }
$1 == "LOAD" { first[$2] = $3; load[$2] = $4 " " $5 " " $6 }
END {
    wname[1] = "train"; wname[2] = "gen1"; wname[3] = "gen16"; wname[4] = "dpo"; wname[5] = "rm"
    rname[1] = "rollout"; rname[2] = "grpo"; rname[3] = "gen"; rname[4] = "logprob"; rname[5] = "update"
    # busy runs: the probe after the run below lim_probe of the reference on either thread count
    for (r = 1; r <= rounds; r++) for (s = 0; s < 2; s++) {
        side = s ? "t" : "o"
        if (!ran[r, side]) continue
        if ((ok(pr1[r, side]) && ref1 > 0 && pr1[r, side] + 0 < lim_probe * ref1) ||
            (ok(pr2[r, side]) && ref2 > 0 && pr2[r, side] + 0 < lim_probe * ref2)) { busy[side, r] = 1; nbusy++; busylist = busylist sprintf(" round %d %s,", r, s ? "pytorch" : "ours") }
        if (!ok(pr1[r, side]) || !ok(pr2[r, side])) noprobe = 1
    }
    printf "load, per round (probe = FMA peak GFLOP/s on 1/2 threads right after the run; reference %s/%s, the best probe of the session%s; busy below %.0f%% of it):\n",
        (ref1 > 0 ? sprintf("%.1f", ref1) : "-"), (ref2 > 0 ? sprintf("%.1f", ref2) : "-"),
        (ok(p01) && (p01 + 0 < ref1 || p02 + 0 < ref2)) ? sprintf(" (the pre-run probe was %s/%s)", p01, p02) : "", 100 * lim_probe
    for (r = 1; r <= rounds; r++) {
        printf "  round %d (%s first):", r, first[r] == "torch" ? "pytorch" : "ours"
        for (s = 0; s < 2; s++) {
            side = s ? "t" : "o"
            if (!ran[r, side]) continue
            printf " %s probe %s/%s others %s%% steal %s%%%s |", s ? "pytorch" : "ours", pr1[r, side], pr2[r, side],
                oth[r, side], stl[r, side], busy[side, r] ? " BUSY" : ""
        }
        printf " loadavg %s\n", load[r]
    }
    if (noprobe) print "  (no probe result from this bench_model: only the spread across rounds can mark a cell)"
    if (ref1 > 0 && ref2 > 0 && ref2 < 1.6 * ref1)
        printf "  note: even the best 2-thread probe is only %.2fx the best 1-thread one: another process may have held a core for the whole session (marks are relative to the best probe and cannot see that), unless the 2 cpus share a physical core\n", ref2 / ref1
    print ""
    printf "median of %d round%s per cell; ratio = ours / pytorch of the medians\n", rounds, (rounds > 1 ? "s" : "")
    printf "%-7s %3s | %-26s | %-26s | %-26s | %-26s | %-26s\n", "", "", "    train tok/s", "    gen b1 tok/s",
        "    gen b16 tok/s", "    dpo tok/s", "    rm tok/s"
    printf "%-7s %3s", "config", "thr"
    for (j = 0; j < 5; j++) printf " | %8s %8s %8s", "ours", "pytorch", "ratio"
    printf "\n"
    for (j = 1; j <= n; j++) {
        k = order[j]; split(k, c, " ")
        printf "%-7s %3s", c[1], c[2]
        for (w = 1; w <= 5; w++) {
            a = med("o", k, w); b = med("t", k, w); m = marks(k, w)
            if (index(m, "*")) nspread++
            printf " | %8s %8s %8s", num(a), num(b), ((ok(a) && ok(b) && b > 0) ? sprintf("%.2fx", a / b) : "-") m
        }
        printf "\n"
    }
    if (nrl) {   # the RL rows: tokens/s with ratios, then the shares of the step time, per side
        print ""
        print "GRPO on tiny: 8 prompts x G completions of 48 new tokens; rollout = generation alone, grpo = a whole step (rollout, reference"
        print "log-probs, loss, backward, AdamW) in generated tokens/s; gen / logprob / update = shares of the step time of that side (ours, pytorch)"
        printf "%-7s %3s %3s | %-26s | %-26s | %-13s | %-13s | %-13s | %s\n", "", "", "", "    rollout tok/s", "    grpo step tok/s",
            "  gen", "  logprob", "  update", "length"
        printf "%-7s %3s %3s", "config", "thr", "G"
        for (j = 0; j < 2; j++) printf " | %8s %8s %8s", "ours", "pytorch", "ratio"
        for (j = 0; j < 3; j++) printf " | %6s %6s", "ours", "pt"
        printf " | %s\n", "ours pt"
        for (j = 1; j <= nrl; j++) {
            k = rlorder[j]; split(k, c, " ")
            printf "%-7s %3s %3s", c[2], c[3], c[4]
            for (w = 1; w <= 2; w++) {
                a = med("o", k, w); b = med("t", k, w); m = marks(k, w)
                if (index(m, "*")) nspread++
                printf " | %8s %8s %8s", num(a), num(b), ((ok(a) && ok(b) && b > 0) ? sprintf("%.2fx", a / b) : "-") m
            }
            for (w = 3; w <= 5; w++) {
                m = marks(k, w)
                if (index(m, "*")) nspread++
                printf " | %6s %6s", share(med("o", k, w)) mark("o", k, w), share(med("t", k, w)) mark("t", k, w)
            }
            a = med("o", k, 6); b = med("t", k, 6)
            printf " | %s %s\n", ok(a) ? sprintf("%.1f", a) : "-", ok(b) ? sprintf("%.1f", b) : "-"
        }
    }
    printf "marks: * the values of that cell across rounds spread by more than %.0f%% ((max-min)/median) on either side;", 100 * lim_spread
    printf " ! a run that fed it was busy (the probe after it < %.0f%% of the reference). Marked: rerun.%s\n", 100 * lim_probe,
        rounds == 1 ? " (1 round: no spread)" : ""
    if (nbusy) { sub(/,$/, "", busylist); printf "busy runs (every cell they fed is marked !):%s\n", busylist }
    if (nspread) {
        print "cells whose values spread (*), per round in round order:"
        for (j = 1; j <= n; j++) for (w = 1; w <= 5; w++) {
            k = order[j]
            if (!index(marks(k, w), "*")) continue
            printf "  %-7s %s %-5s", substr(k, 1, index(k, " ") - 1), substr(k, index(k, " ") + 1), wname[w]
            for (s = 0; s < 2; s++) {
                side = s ? "t" : "o"; stats(side, k, w)
                if (MED == "") continue
                printf "%s %s %s (spread %.0f%%%s)", s ? " |" : "", s ? "pytorch" : "ours", LIST, 100 * SPR, BUSY != "" ? ", busy round" BUSY : ""
            }
            printf "\n"
        }
        for (j = 1; j <= nrl; j++) for (w = 1; w <= 5; w++) {
            k = rlorder[j]
            if (!index(marks(k, w), "*")) continue
            split(k, c, " ")
            printf "  %-7s %s G=%s %-7s", c[2], c[3], c[4], rname[w]
            for (s = 0; s < 2; s++) {
                side = s ? "t" : "o"; stats(side, k, w)
                if (MED == "") continue
                printf "%s %s %s (spread %.0f%%%s)", s ? " |" : "", s ? "pytorch" : "ours", w <= 2 ? LIST : sharelist(side, k, w),
                    100 * SPR, BUSY != "" ? ", busy round" BUSY : ""
            }
            printf "\n"
        }
    }
    if (!have_torch) print "PyTorch columns: SKIPPED (no PyTorch results)"
    else printf "PyTorch %s, BLAS %s, OpenMP %s, ATen CPU capability %s, AdamW %s\n", info["version"], info["blas"], info["omp"], info["cpu_capability"], info["opt"]
    printf "peak RSS, small config: ours %s MB (bench_model process peak: model+arena+KV cache, train and generate)", orss["small"] == "" ? "-" : orss["small"]
    if (have_torch) printf " | PyTorch %s MB (training steps in a fresh process; %s MB of it is python+libtorch after import)", trss["small"] == "" ? "-" : trss["small"], tbase["small"] == "" ? "-" : tbase["small"]
    printf "\n"
    print ""
    print "targets (report only):"
    t = "tiny " tmax; s = "small " tmax
    check("training >= 2.0x PyTorch on tiny (" tmax " threads)", "o", t, 1, "t", t, 1, 2.0)
    check("training >= 1.3x PyTorch on small (" tmax " threads)", "o", s, 1, "t", s, 1, 1.3)
    check("DPO step >= 1.5x PyTorch on tiny (" tmax " threads)", "o", t, 4, "t", t, 4, 1.5)
    check("batch-16 generation >= 6x batch-1 tokens/s (ours, tiny, " tmax " threads)", "o", t, 3, "o", t, 2, 6.0)
    check("batch-16 generation >= 6x batch-1 tokens/s (ours, small, " tmax " threads)", "o", s, 3, "o", s, 2, 6.0)
    if (tmax + 0 > 1)
        check("batch-1 generation on small: " tmax " threads not slower than 1 thread (ours; >= 0.97x)", "o", s, 2, "o", "small 1", 2, 0.97)
    else
        printf "  SKIPPED  batch-1 generation on small: 2 threads not slower than 1 thread (ours) (THREADS has no count > 1)\n"
    for (g = 8; g <= 16; g += 8) {
        r = "rl tiny " tmax " " g
        check("the whole GRPO step >= 5x PyTorch on tiny (" tmax " threads, G=" g ")", "o", r, 2, "t", r, 2, 5.0)
    }
    for (g = 8; g <= 16; g += 8) {
        r = "rl tiny " tmax " " g
        check_max("generation <= half of our GRPO step time (tiny, " tmax " threads, G=" g ")", "o", r, 3, 0.5)
    }
}
function share(x) { return ok(x) ? sprintf("%.2f", x) : "-" }
# the values of a share cell per round, 2 decimals (LIST rounds to integers)
function sharelist(side, k, w,   m, a, i, s) {
    m = split(vals[side, k, w], a, " "); s = ""
    for (i = 1; i <= m; i++) s = s (i > 1 ? " " : "") sprintf("%.2f", a[i])
    return s
}
# an upper bound on one cell (a share): PASS when its median is at most lim
function check_max(what, s, k, w, lim,   a, m) {
    a = med(s, k, w); m = mark(s, k, w)
    if (!ok(a)) printf "  SKIPPED  %s (no result)\n", what
    else printf "  %-7s  %s: %.2f%s\n", (a <= lim ? "PASS" : "MISS"), what, a, m != "" ? " (load moved: rerun)" : ""
}
function check(what, sa, ka, wa, sb, kb, wb, need,   a, b, m) {
    a = med(sa, ka, wa); b = med(sb, kb, wb)
    m = mark(sa, ka, wa) mark(sb, kb, wb)
    if (!ok(a) || !ok(b) || b <= 0) printf "  SKIPPED  %s (no result)\n", what
    else printf "  %-7s  %s: %.2fx%s\n", (a / b >= need ? "PASS" : "MISS"), what, a / b, m != "" ? " (load moved: rerun)" : ""
}' "$DATA"
exit 0
