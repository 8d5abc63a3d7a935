# Thin entry points; the work is done by the harness (harness/).
SMP ?= 1
ACCEL ?= auto
HARNESS := cargo run --quiet -p capos-harness --
LIMINE_ARG := $(if $(LIMINE_DIR),--limine-dir $(LIMINE_DIR),)

.PHONY: all deps test host-test kernel-test ktest run iso clean

all: run

deps:
	@./scripts/install-deps.sh

## Everything CI runs: host tests, then kernel tests at SMP=1, 2 and 4 plus
## the framework self-checks. Ends with `total: N passed, M failed`.
test: deps host-test kernel-test

host-test:
	cargo test --quiet

kernel-test:
	$(HARNESS) test-suite --smp 1,2,4 --accel $(ACCEL) --quiet

## Kernel tests at one CPU count: make ktest SMP=4
ktest: deps
	$(HARNESS) ktest --smp $(SMP) --accel $(ACCEL)

## Boot the default image headless; exits when the system shuts down.
## With LIMINE_DIR=<dir of Limine binaries> it boots a Limine ISO instead.
run: deps
	$(HARNESS) run --smp $(SMP) --accel $(ACCEL) $(LIMINE_ARG)

iso: deps
	$(HARNESS) iso --limine-dir $(LIMINE_DIR)

clean:
	cargo clean
