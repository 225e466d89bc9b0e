# A fresh machine needs two commands: `make run` (the main job) and `make test` (everything we check).
# libtorch is assembled once from PyPI wheels into ~/.cache/tchinfo (see scripts/fetch-libtorch.sh).

CARGO ?= cargo

.PHONY: run test libtorch chromium build

libtorch:
	@./scripts/fetch-libtorch.sh

# The HTML report's tests open it in a real headless browser: Debian's chromium, installed when missing.
chromium:
	@./scripts/ensure-chromium.sh

build: libtorch
	$(CARGO) build --release

run: build
	./target/release/tchinfo summary vgg16

test: libtorch chromium
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) test --release --workspace
