# Examina Serverless — developer tasks. See DEVELOPERS.md.
FUNCTIONS  := dispatch analyze merge
GO_BUILD   := CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w"
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)
FUZZTIME   ?= 1m
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d

.PHONY: build build-DispatchFunction build-AnalyzeFunction build-MergeFunction test lint fmt vet staticcheck cfn-lint bench fuzz deploy clean moto rie \
	stack-up stack-down stack-status \
	invoke-DispatchFunction invoke-AnalyzeFunction invoke-MergeFunction \
	invoke-DispatchFunction-api invoke-DispatchFunction-get invoke-DispatchFunction-fanout

## build: each function's bootstrap for the deployed architecture (linux/arm64) in bin/<fn>/bootstrap
build:
	@for fn in $(FUNCTIONS); do \
		echo "build bin/$$fn/bootstrap"; \
		GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO_BUILD) -o bin/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done

# ---------------------------------------------------------------- sam build
# template.yaml builds every function with `BuildMethod: makefile` from CodeUri: . (the
# repository root). sam build (aws-lambda-builders' CustomMakeBuilder) copies the root,
# less .aws-sam and .git, to a scratch directory and runs there
#   make --makefile <root>/Makefile build-<LogicalId>
# with ARTIFACTS_DIR set to the function's artifact directory, which must receive the
# bootstrap. LAMBDA_GOARCH must match the functions' Architectures (checked by
# shared/template's TestSamMakefileBuild, which runs exactly these steps).
LAMBDA_GOARCH := arm64

build-DispatchFunction: FN := dispatch
build-AnalyzeFunction: FN := analyze
build-MergeFunction: FN := merge
build-DispatchFunction build-AnalyzeFunction build-MergeFunction:
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set: sam build sets it to the function's artifact directory))
	GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO_BUILD) -o "$(ARTIFACTS_DIR)/bootstrap" ./functions/$(FN)

## test: the project's one test command (go test -race ./..., cfn-lint, staticcheck)
test:
	scripts/test

## lint: gofmt, go vet, staticcheck, cfn-lint
lint: fmt vet staticcheck cfn-lint

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...

staticcheck:
	$(STATICCHECK) ./...

cfn-lint:
	cfn-lint template.yaml

## invoke-<Function>: build for this machine, run under aws-lambda-rie against a private moto
invoke-DispatchFunction:
	go run ./scripts/invoke -function DispatchFunction -event events/s3-put.json

invoke-DispatchFunction-api:
	go run ./scripts/invoke -function DispatchFunction -event events/api-post.json

invoke-DispatchFunction-get:
	go run ./scripts/invoke -function DispatchFunction -event events/api-get.json

invoke-DispatchFunction-fanout:
	go run ./scripts/invoke -function DispatchFunction -event events/fanout-task.json

invoke-AnalyzeFunction:
	go run ./scripts/invoke -function AnalyzeFunction -event events/sqs-batch.json

invoke-MergeFunction:
	go run ./scripts/invoke -function MergeFunction -event events/merge-task.json

## moto: a patched moto_server on 127.0.0.1:5000 for manual experiments
moto:
	scripts/moto --host 127.0.0.1 --port 5000

## stack-up: the whole stack on this machine (scripts/stack up; STACK_DIR, PARAMS=Key=Value ...)
STACK_DIR ?= .stack
stack-up:
	scripts/stack up --dir $(STACK_DIR) $(if $(PARAMS),--parameter-overrides $(PARAMS))

## stack-down: stop every process stack-up started
stack-down:
	scripts/stack down --dir $(STACK_DIR)

stack-status:
	scripts/stack status --dir $(STACK_DIR)

## rie: install the pinned Lambda Runtime Interface Emulator
rie:
	go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## bench: every benchmark, once, then every examina bench scenario (docs/BENCHMARKS.md)
bench:
	go test -run='^$$' -bench=. -benchmem ./...
	mkdir -p out && go run ./cmd/examina bench --scenario all --json out/bench-report.json

## fuzz: every fuzz target for FUZZTIME each
fuzz:
	scripts/fuzz $(FUZZTIME)

## deploy: sam build && sam deploy with samconfig.toml (needs the SAM CLI and AWS credentials)
deploy:
	sam build && sam deploy

clean:
	rm -rf bin .aws-sam .stack
