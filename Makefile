# phpinit: build, test, demo, bench, image.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
PKG     := github.com/phpinit/phpinit/internal/version
LDFLAGS := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT)
GO      ?= go

.PHONY: all build test unit deps demo bench bench-idle image fmt vet clean fresh-test

all: build

# A static binary: it is copied into any image as PID 1.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/phpinit ./cmd/phpinit

# Installs what is missing (root; else prints the one command), then runs
# every test, including the ones that run phpinit as PID 1 with the real
# daemons. -race when a C compiler is there. Ends with one line: passed,
# skipped (and why), failed.
test: deps vet
	@GO=$(GO) scripts/test.sh -timeout 15m ./...

# Only what needs neither root nor the daemons (the rest skips under -short).
unit:
	@GO=$(GO) scripts/test.sh -short ./...

# The quick start on a fresh debootstrap'd Debian 12 with only Go, make and
# git (root; about 11 minutes): scripts/fresh-test.sh.
fresh-test:
	@scripts/fresh-test.sh

deps:
	@scripts/install-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# nginx + php-fpm on http://localhost:8080 under phpinit (Ctrl-C stops it gracefully).
# Installs nginx and php-fpm when missing (root; else prints the command).
demo: build
	@scripts/demo.sh

bench: deps build
	@bench/run.sh

# Idle wakeups, CPU and RSS of phpinit alone with the shipped config's
# probes, over 30 s (bench/README.md).
bench-idle: deps build
	@ONLY=idle IDLE_INITS=phpinit IDLE_WINDOW=30s bench/run.sh

image:
	docker build -f docker/Dockerfile --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t phpinit:$(VERSION) .

clean:
	rm -rf bin
