# posttrain.h build, test and benchmark targets.
#   make            build every example into build/
#   make test       the whole suite: optimised, then under ASan+UBSan, plus C++ and PT_STATIC builds
#   make bench      benchmarks (tests/bench/)
#   make demo       the whole chain in one run (examples/pipeline.c, about 5 min): pretrain, SFT, reward
#                   models, DPO, GRPO, rejection sampling, test-time search; a scoreboard and build/demo/report.md
#   make chapters   the chapters' own runs that later examples start from (build/base.ckpt, build/sft.ckpt, ...)
#   make OMP=0 ...  build without OpenMP;  CC=clang make test  works too
CC ?= cc
# Every build runs on all cores unless the command line says otherwise (make -j1 ...); the test
# programs themselves run one after another (tests/run_tests.sh), each on the whole OpenMP pool.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
MAKEFLAGS += -j$(JOBS)
CXX ?= c++
ifeq ($(CC),clang)
  CXX := clang++
endif
OMP ?= 1
ifeq ($(OMP),1)
  OMPFLAGS := -fopenmp
else
  OMPFLAGS := -fopenmp-simd -DPT_OMP_SIMD
endif
WARN    := -Wall -Wextra -Werror
ARCH    ?= -march=native
# gcc and clang tuned for Intel (-march=native included) prefer 256-bit registers for the loops they
# vectorise; on an AVX-512 CPU that is half the width. Ask for 512 bits where the compiler knows
# the flag (x86); the matmul micro-kernel uses full-width vector types whatever this says.
WIDE    := $(shell $(CC) -mprefer-vector-width=512 -x c -c /dev/null -o /dev/null 2>/dev/null && echo -mprefer-vector-width=512)
ARCH    += $(WIDE)
OPT     := -O2 $(ARCH) -fno-math-errno -ffp-contract=fast
CFLAGS  ?= -std=c99 $(OPT) $(WARN) $(OMPFLAGS)
SANFLAGS := -std=c99 -O1 -g $(ARCH) -fno-math-errno -ffp-contract=fast $(WARN) $(OMPFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDLIBS  := -lm
B := build
# passive waiting: idle OpenMP workers sleep instead of spinning (see the header's CONVENTIONS)
export OMP_WAIT_POLICY ?= passive

EXAMPLES := autograd_tour pretrain generate sft peft distill sft_stories reward_model dpo dpo_stories grpo rl_tour ppo r1 dr_grpo reward_hacking sft_vs_rl grpo_stories test_time pipeline star flywheel quiet_star
TESTS    := test_manual test_engine test_kernels test_prefs test_model test_llama2c test_sft test_peft test_data test_world test_learning test_refs test_trainer test_rl test_search
HDR      := posttrain.h

.PHONY: all test bench demo chapters clean notebooks
all: $(addprefix $(B)/,$(EXAMPLES))

$(B):
	@mkdir -p $(B)

# The implementation is compiled once per configuration, the stb way: one object defines it and
# every program links that object. The programs are built with -DPT_EXTERNAL_IMPLEMENTATION, which
# turns their own "#define POSTTRAIN_IMPLEMENTATION" into a no-op, so each example still builds alone
# as its first lines say (cc ... examples/sft.c -lm). The object's source is the one line
# '#include "posttrain.h"' on standard input, so no extra file is needed and the header stays a
# header (clang warns about unused static inline functions in a main file, not in its headers).
EXTERNAL := -DPT_EXTERNAL_IMPLEMENTATION
IMPL     := $(B)/posttrain.o
IMPL_SAN := $(B)/posttrain_asan.o
$(IMPL): $(HDR) | $(B)
	printf '#include "posttrain.h"\n' | $(CC) $(CFLAGS) -DPOSTTRAIN_IMPLEMENTATION -I. -x c -c - -o $@

$(IMPL_SAN): $(HDR) | $(B)
	printf '#include "posttrain.h"\n' | $(CC) $(SANFLAGS) -DPOSTTRAIN_IMPLEMENTATION -I. -x c -c - -o $@

$(B)/%: examples/%.c examples/example.h $(IMPL) | $(B)
	$(CC) $(CFLAGS) $(EXTERNAL) -I. $< $(IMPL) -o $@ $(LDLIBS)

$(B)/test_%: tests/test_%.c tests/test.h tests/test_tmp.h $(IMPL) | $(B)
	$(CC) $(CFLAGS) $(EXTERNAL) -I. $< $(IMPL) -o $@ $(LDLIBS)

$(B)/asan_%: tests/%.c tests/test.h tests/test_tmp.h $(IMPL_SAN) | $(B)
	$(CC) $(SANFLAGS) $(EXTERNAL) -I. $< $(IMPL_SAN) -o $@ $(LDLIBS)

# White-box tests compile the implementation themselves: they call private pt__ functions (exp,
# kernels, LoRA internals) and point PT_MALLOC/PT_REALLOC/PT_FREE at their own counting wrappers.
WHITEBOX := test_engine test_kernels test_peft
$(addprefix $(B)/,$(WHITEBOX)): $(B)/%: tests/%.c tests/test.h tests/test_tmp.h $(HDR) | $(B)
	$(CC) $(CFLAGS) -I. $< -o $@ $(LDLIBS)

$(addprefix $(B)/asan_,$(WHITEBOX)): $(B)/asan_%: tests/%.c tests/test.h tests/test_tmp.h $(HDR) | $(B)
	$(CC) $(SANFLAGS) -I. $< -o $@ $(LDLIBS)

# the implementation as C++, and as a PT_STATIC build with its own allocator: one program each
$(B)/cpp_tu: tests/cpp_tu.cpp tests/test.h $(HDR) | $(B)
	$(CXX) -O2 $(ARCH) $(WARN) $(OMPFLAGS) -I. $< -o $@ $(LDLIBS)

$(B)/static_tu: tests/static_tu.c $(HDR) | $(B)
	$(CC) $(CFLAGS) -I. $< -o $@ $(LDLIBS)

# learning tests (minutes of training under ASan) run optimised only; the code they run is covered
# under the sanitizers by the other suites
ASAN_TESTS := $(filter-out test_learning,$(TESTS))
TEST_BINS := $(addprefix $(B)/,$(TESTS)) $(addprefix $(B)/asan_,$(ASAN_TESTS)) $(B)/cpp_tu $(B)/static_tu

$(B)/parity_dump: tests/parity_dump.c $(IMPL) | $(B)
	$(CC) $(CFLAGS) $(EXTERNAL) -I. $< $(IMPL) -o $@ $(LDLIBS)

# Debian's python3 (numpy, torch); the pyenv python3 first on PATH has neither
PYTHON ?= /usr/bin/python3
PARITY := "$(PYTHON) tests/torch_parity.py $(B)/parity_dump $(B)/parity"

$(B)/valgrind_loaders: tests/valgrind_loaders.c tests/test.h $(HDR) | $(B)
	$(CC) -std=c99 -O1 -g $(WARN) -I. $< -o $@ $(LDLIBS)

# the loaders under valgrind when it is installed (it is on the CI machine image)
VALGRIND := $(shell command -v valgrind 2>/dev/null)
ifneq ($(VALGRIND),)
VG_TEST := "valgrind -q --leak-check=full --error-exitcode=3 $(B)/valgrind_loaders"
else
VG_TEST := "echo SKIPPED: valgrind not installed; echo 0 passed, 0 failed"
endif

# the whole pipeline at small budgets (examples/pipeline.c --quick checks its own scoreboard)
PIPELINE_TEST := "$(B)/pipeline --quick --out $(B)/demo_quick"

test: $(TEST_BINS) $(B)/parity_dump $(B)/valgrind_loaders all
	@sh tests/run_tests.sh $(TEST_BINS) $(VG_TEST) $(PARITY) $(PIPELINE_TEST)

$(B)/bench_matmul: tests/bench/bench_matmul.c $(HDR) | $(B)
	$(CC) $(CFLAGS) -O3 -I. $< -o $@ $(LDLIBS)

# matmul GFLOP/s vs the measured FP32 peak; training/generation tokens/s vs PyTorch (alternating
# rounds, medians; ROUNDS=5 make bench for more); then the per-op profile of a training step
bench: $(B)/bench_matmul $(B)/bench_model
	$(B)/bench_matmul
	PYTHON=$(PYTHON) BENCH_MODEL=$(B)/bench_model bash tests/bench/compare.sh
	$(B)/bench_model --profile

demo: $(B)/pipeline
	$(B)/pipeline

# the chapters' own runs, which later examples start from (build/base.ckpt, build/sft.ckpt, the
# reward models, build/base_mixed.ckpt): pretraining, SFT, reward models (150 steps), DPO (100 steps),
# then R1-Zero (a mixed-format base, GRPO with rule rewards)
chapters: $(B)/pretrain $(B)/sft $(B)/reward_model $(B)/dpo $(B)/grpo
	$(B)/pretrain
	$(B)/sft
	$(B)/reward_model 150
	$(B)/dpo 100
	$(B)/pretrain 1400 0 $(B)/base_mixed.ckpt 0.6
	$(B)/grpo 150 $(B)/base_mixed.ckpt

clean:
	rm -rf $(B)

$(B)/bench_model: tests/bench/bench_model.c $(HDR) | $(B)
	$(CC) $(CFLAGS) -O3 -I. $< -o $@ $(LDLIBS)

# shared library for the notebooks (Python ctypes): notebooks/ptlib.c over posttrain.h
$(B)/libposttrain.so: notebooks/ptlib.c $(HDR) | $(B)
	$(CC) $(CFLAGS) -fPIC -shared -I. $< -o $@ $(LDLIBS)

# execute every notebook headless with Debian's python3 (executed copies in $(B)/notebooks); fails on any cell error
# (the notebooks call make themselves: they get a fresh MAKEFLAGS, not this make's jobserver)
notebooks: $(B)/libposttrain.so
	MAKEFLAGS= MFLAGS= PYTHON=$(PYTHON) OUT=$(B)/notebooks sh notebooks/run.sh
