# Thin entry points; the work is done by the harness (harness/).
SMP ?= 1
ACCEL ?= auto
HARNESS := cargo run --quiet -p capos-harness --
LIMINE_ARG := $(if $(LIMINE_DIR),--limine-dir $(LIMINE_DIR),)
## The Limine release the tests boot through (Limine 8.2.0 binaries and the
## source of its `limine` tool; docs/architecture/boot.md).
## ../shared/limine beside the checkout, else the workplace's /work/shared.
LIMINE_RELEASE ?= $(firstword $(wildcard ../shared/limine /work/shared/limine) ../shared/limine)
## UEFI firmware for the Limine UEFI boot (Debian's `ovmf`).
OVMF ?= /usr/share/ovmf/OVMF.fd

.PHONY: all deps deps-bench test lint host-test kernel-test smoke-test fidelity-test fidelity scenario profile compare ktest run run-smp2-smokes fuzz \
	run-thread-scale run-smp-process-scale run-ipc-scale \
	run-linux-thread-scale-baseline run-linux-smp-process-scale-baseline iso clean

all: run

deps:
	@./scripts/install-deps.sh

deps-bench:
	@./scripts/install-deps.sh bench

## Everything CI runs: host tests, kernel tests at SMP=1, 2 and 4 plus the
## framework self-checks, and every smoke at SMP=1, 2 and 4.
## Each harness stage ends with `total: N passed, M failed`.
test: deps lint host-test kernel-test smoke-test fidelity-test

## Formatting and clippy with warnings as errors (undocumented unsafe
## blocks included): host crates, then the bare-metal crates for their
## target (the kernel in all three flavours, the loader, user space).
CLIPPY_DENY := -D warnings -D clippy::undocumented_unsafe_blocks
BARE_CLIPPY := cargo clippy --quiet --profile kernel --target x86_64-unknown-none --target-dir target/clippy
lint:
	cargo fmt --all --check
	cargo clippy --quiet --all-targets -- $(CLIPPY_DENY)
	$(BARE_CLIPPY) -p capos-kernel -- $(CLIPPY_DENY)
	$(BARE_CLIPPY) -p capos-kernel --features ktest -- $(CLIPPY_DENY)
	$(BARE_CLIPPY) -p capos-kernel --features measure -- $(CLIPPY_DENY)
	$(BARE_CLIPPY) -p capos-boot --features bare-metal -- $(CLIPPY_DENY)
	$(BARE_CLIPPY) -p capos-rt -p capos-smokes -p capos-demos -- $(CLIPPY_DENY)

host-test:
	cargo test --quiet

kernel-test:
	$(HARNESS) test-suite --smp 1,2,4 --accel $(ACCEL) --quiet

smoke-test:
	$(HARNESS) run-smokes --smp 1,2,4 --accel $(ACCEL) --quiet
	$(HARNESS) run-smokes --smp 2 --only smoke-thread --measure --accel $(ACCEL) --quiet
	$(HARNESS) run-smokes --smp 2 --only smoke-thread --limine $(LIMINE_RELEASE) --accel $(ACCEL) --quiet
	$(HARNESS) run-smokes --smp 2 --only smoke-thread --limine $(LIMINE_RELEASE) --uefi $(OVMF) --accel $(ACCEL) --quiet
	$(HARNESS) run-smokes --smp 4 --only smoke-thread,smoke-park,smoke-exit,smoke-endpoint,smoke-timed-storm --kernel-word sched=global --accel $(ACCEL) --quiet
	$(HARNESS) fuzz --smp 2,4 --ops $(SMOKE_FUZZ_OPS) --accel $(ACCEL) --quiet
	rm -rf target/profile/make-test
	$(HARNESS) profile --manifest $(PROFILE_EXAMPLE) --smp 2 --out target/profile/make-test --accel $(ACCEL) --quiet
	$(HARNESS) render-check target/profile/make-test/index.html

## The ground-truth suite (harness/src/fidelity/, docs/measure.md "Fidelity
## suite"): planted workloads under the measure kernel; every planted
## quantity must be found in the reports. `make test` runs the short runs
## once; `make fidelity` the long ones FIDELITY_REPEAT times.
## The suite ends with the field coverage over the logs it wrote: every
## catalogue field and label must be raised by some planted workload.
FIDELITY_REPEAT ?= 3
fidelity-test:
	$(HARNESS) fidelity --accel $(ACCEL) --quiet
fidelity: deps
	$(HARNESS) fidelity --full --repeat $(FIDELITY_REPEAT) --accel $(ACCEL) --quiet

## Scenarios with a known cause (harness/src/fidelity/scenarios.rs, docs/
## measure.md "Scenarios"): the scaling-loss table must name what was
## planted. NAME=global (the one global run queue, sched=global), imbalance
## (3 workers on 2 CPUs, balance=off) or ipc (ipc-scale pairs, nothing
## planted); FULL=1 for the larger shapes (4 workers for global and ipc).
## `make test` runs all three at the small shapes in the fidelity suite.
NAME ?= global
scenario: deps
	$(HARNESS) fidelity --only scen-$(NAME) $(if $(FULL),--full) --accel $(ACCEL) --quiet

## Profile any program (docs/profiling.md, "Profile your own program"):
## boots the programs MANIFEST (capnp text, anywhere) names under the
## measure kernel at SMP CPUs and writes measure.log, symbols, flamegraphs,
## the timeline, charts and index.html under target/profile/<name>-<time>/
## (OUT= another directory). ELFS="name=path ..." gives prebuilt programs,
## PACKAGES= more user packages to build (besides capos-demos and
## capos-smokes), BINARIES= programs the manifest's processes spawn by name,
## KERNEL_WORDS= kernel command-line words. `make test` profiles the example.
PROFILE_EXAMPLE := docs/examples/profile-demo.capnp
MANIFEST ?= $(PROFILE_EXAMPLE)
profile: deps
	$(HARNESS) profile --manifest $(MANIFEST) --smp $(SMP) --accel $(ACCEL) \
		$(foreach e,$(ELFS),--elf $(e)) $(foreach p,$(PACKAGES),--package $(p)) \
		$(foreach b,$(BINARIES),--binary $(b)) $(foreach w,$(KERNEL_WORDS),--kernel-word $(w)) \
		$(if $(OUT),--out $(OUT))

## Compare two benchmark runs (docs/benchmarks.md, "Comparing two runs"):
## A=<run dir> B=<run dir> (e.g. target/thread-scale/<time>). Per case and
## metric: the change, its 95% bootstrap interval and a verdict; writes
## compare.txt, compare.csv, differential flamegraphs and index.html under
## target/compare/. NOISE=<pct> (default 5): smaller changes are no change;
## GATE=1 fails on any worse timed metric (for CI).
compare: deps
	$(HARNESS) compare $(A) $(B) $(if $(NOISE),--noise $(NOISE)) $(if $(GATE),--fail-on-regression) \
		$(if $(OUT),--out $(OUT))

## The syscall and ring fuzzer (harness/src/fuzz.rs): fresh runs, the next
## seed each time, until SECONDS have passed (SECONDS=0: one run per SMP
## value). SEED= sets the first seed (default: from the clock), OPS= the ops
## per run, CHILDREN= the fuzz processes per run; SMP defaults to 4 here.
## KERNEL_WORDS= adds kernel command-line words (e.g. KERNEL_WORDS=sched=global).
## A failing run prints the `make fuzz SEED=...` that replays it.
SECONDS ?= 60
SMOKE_FUZZ_OPS ?= 20000
FUZZ_SMP = $(if $(filter file,$(origin SMP)),4,$(SMP))
fuzz: deps
	$(HARNESS) fuzz --seconds $(SECONDS) --smp $(FUZZ_SMP) --accel $(ACCEL) \
		$(if $(SEED),--seed $(SEED)) $(if $(OPS),--ops $(OPS)) $(if $(CHILDREN),--children $(CHILDREN)) \
		$(foreach w,$(KERNEL_WORDS),--kernel-word $(w))

## Every smoke under -smp 2; per-smoke logs under target/runs/.
run-smp2-smokes: deps
	$(HARNESS) run-smokes --smp 2 --accel $(ACCEL)

## The scaling proofs on capOS: 1/2/4 workers under -smp 1/2/4, RUNS times
## each (CAPOS_THREAD_SCALE_RUNS / CAPOS_SMP_SCALE_RUNS, default 5), with the
## Linux guest rows measured in the same invocation; artifacts under
## target/thread-scale/<timestamp>/ and target/smp-process-scale/<timestamp>/.
## The main job: thread-scale on capOS and the Linux guest, with guest
## measurement (measure.log, symbolized samples, flamegraphs, index.html)
## and its overhead pass: CAPOS_THREAD_SCALE_OVERHEAD_RUNS rounds (default 5
## with guest measurement, 0 turns it off) of the normal kernel against the
## measure kernel at 100, 997 and 10000 Hz (overhead.csv, summary.log).
## Both read CAPOS_SCHED_POLICY (percpu, global or percpu,global) from the
## environment like every other CAPOS_* knob: e.g.
## `CAPOS_SCHED_POLICY=percpu,global make run-thread-scale`.
run-thread-scale: export CAPOS_THREAD_SCALE_GUEST_MEASURE ?= 1
run-thread-scale: deps-bench
	$(HARNESS) bench-capos thread-scale --accel $(ACCEL)

run-smp-process-scale: deps-bench
	$(HARNESS) bench-capos process-scale --accel $(ACCEL)

## IPC scaling: 1/2/4 client/server pairs (one pair per vCPU) exchanging
## request/reply messages over capOS endpoints, CAPOS_IPC_SCALE_CALLS calls
## per client (default 2000), CAPOS_IPC_SCALE_RUNS runs per case (default
## 5), with the Linux guest (pipe ping-pong) rows and the guest-measure pass
## (measure.log, flamegraphs, index.html) under target/ipc-scale/<timestamp>/.
## The overhead pass is off unless CAPOS_IPC_SCALE_OVERHEAD_RUNS is set.
run-ipc-scale: export CAPOS_IPC_SCALE_GUEST_MEASURE ?= 1
run-ipc-scale: export CAPOS_IPC_SCALE_OVERHEAD_RUNS ?= 0
run-ipc-scale: deps-bench
	$(HARNESS) bench-capos ipc-scale --accel $(ACCEL)

## Linux baselines of the benchmarks: native (threads / fork) and a Linux
## guest under the same QEMU envelope as capOS.
run-linux-thread-scale-baseline: deps-bench
	$(HARNESS) bench-linux-native thread-scale
	$(HARNESS) bench-linux-guest thread-scale --accel $(ACCEL)

run-linux-smp-process-scale-baseline: deps-bench
	$(HARNESS) bench-linux-native process-scale
	$(HARNESS) bench-linux-guest process-scale --accel $(ACCEL)

## Kernel tests at one CPU count: make ktest SMP=4
ktest: deps
	$(HARNESS) ktest --smp $(SMP) --accel $(ACCEL)

## Boot the default image headless; exits when the system shuts down.
## With LIMINE_DIR=<dir of Limine binaries> it boots a Limine ISO instead.
run: deps
	$(HARNESS) run --smp $(SMP) --accel $(ACCEL) $(LIMINE_ARG)

iso: deps
	$(HARNESS) iso --limine-dir $(or $(LIMINE_DIR),$(LIMINE_RELEASE))

clean:
	cargo clean
