# phpinit: build, test, demo, bench, image.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
PKG     := github.com/phpinit/phpinit/internal/version
LDFLAGS := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT)
GO      ?= go

.PHONY: all build test unit deps demo bench bench-idle image fmt vet clean

all: build

# A static binary: it is copied into any image as PID 1.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/phpinit ./cmd/phpinit

# Installs nginx and php-fpm when missing (root), then runs every test,
# including the ones that run phpinit as PID 1 with the real daemons.
test: deps vet
	$(GO) test -race -timeout 15m ./...

# Tests without the daemons (they skip with a message).
unit:
	$(GO) test -race -short ./...

deps:
	@scripts/install-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# nginx + php-fpm on http://localhost:8080 under phpinit (Ctrl-C stops it gracefully).
demo: deps build
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
