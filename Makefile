# netconform — see README.md. Every target sets up its own venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: help venv dist tools manifests analyze fuzz-policies peer-netpol preflight docker-up docker-down local-images test-local test-example check check-controlplane controlplane lint test test-policies bench bench-cluster clean

help:
	@echo "make check          the suite's own tests: lint, unit, lab (root), schema"
	@echo "make controlplane   build etcd, kube-apiserver, kube-controller-manager, cilium-operator, coredns (cached)"
	@echo "make check-controlplane  the Kubernetes glue against that real control plane"
	@echo "make test           create a kind cluster with Cilium and run every suite"
	@echo "   IMAGES=local       ... from images built here (no registry access; make docker-up first)"
	@echo "   SPEC=FILE          ... against another architecture (and the files its sources name)"
	@echo "make test-policies  the policy analyzer, then only the network policy suites"
	@echo "make test-example   examples/homelab's own files on the local cluster (netconform installed"
	@echo "                    from the wheel, run from the example's folder), and its mistakes"
	@echo "make dist           the wheel: netconform with its suites, fixtures and cluster data"
	@echo "make analyze        the policies' matrix predicted without a cluster, against the spec"
	@echo "make bench          what a matrix pass costs, what a capture keeps up with (lab, root)"
	@echo "make bench-cluster  what a run costs at 8, 16, 32 and 64 workloads on a local cluster of its own"
	@echo "make fuzz-policies  random policy sets on the local cluster, each against the analyzer"
	@echo "   FUZZ_SETS=N FUZZ_SEED=S   ... how many, from which seed (default 40 from 1)"
	@echo "make peer-netpol    the Kubernetes NetworkPolicy e2e tests, built here, on the local cluster"
	@echo "   ARGS=\"--focus RE --keep-cluster\"   ... a subset; keep the cluster it made"
	@echo "make manifests      write the reference manifests of architecture.yaml into manifests/"
	@echo "make lint           ruff"
	@echo "make tools          pinned kind, kubectl and helm into .bin/"
	@echo "make docker-up / docker-down   a local Docker engine for kind without registry access"
	@echo "make local-images   kind node and kubeadm images built here (cached); make test-local"
	@echo "make clean          remove reports, the venv and leftovers of interrupted runs (lab, cluster)"
	@echo "   CLUSTER=existing CONTEXT=<kube context> ARGS=--allow-cluster-changes  for your own cluster"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

# actionlint, pinned, built by Go from its module (its PyPI wheel downloads from GitHub).
ACTIONLINT := $(VENV)/bin/actionlint
$(ACTIONLINT): | $(STAMP)
	GOBIN=$(abspath $(VENV)/bin) go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

tools: venv
	$(VENV)/bin/netconform tools

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# kubectl renders kustomizations of a user's tree (built from its module, cached).
KUBECTL_BUILT = $(PY) -m netconform.offline.gobuild --only kubectl
check: lint $(ACTIONLINT)
	$(KUBECTL_BUILT)
	@mkdir -p reports
	$(PYTEST) tests --ignore=tests/controlplane --ignore=tests/localcluster --junitxml=reports/check.xml

CONTROLPLANE_BINARIES := etcd kube-apiserver kube-controller-manager cilium-operator-generic coredns

controlplane: venv
	$(PY) -m netconform.offline.gobuild --only $(CONTROLPLANE_BINARIES)

check-controlplane: controlplane
	@mkdir -p reports
	$(PYTEST) tests/controlplane --junitxml=reports/check-controlplane.xml

# make test CLUSTER=existing CONTEXT=my-context ARGS=--allow-cluster-changes
# make test IMAGES=local   (no registry access: everything built here, see README)
CLUSTER ?= kind
IMAGES ?= registry
SPEC ?= architecture.yaml
SUITES := $(VENV)/bin/netconform test -v --cluster=$(CLUSTER) --images=$(IMAGES) --spec=$(SPEC) \
	$(if $(TEST),--test='$(TEST)') \
	$(if $(CONTEXT),--kube-context=$(CONTEXT)) $(ARGS)

preflight: venv
ifeq ($(IMAGES),local)
	@$(MAKE) --no-print-directory local-images
else
	@if [ "$(CLUSTER)" = kind ]; then $(PY) -m netconform.cli preflight; fi
endif

test: preflight
	@mkdir -p reports
	$(SUITES) --junitxml=reports/suites.xml

# Stops on an analyzer diff before any cluster is touched.
test-policies: analyze preflight
	@mkdir -p reports
	$(SUITES) -m "policies or l7" --junitxml=reports/policies.xml

analyze: venv
	$(PY) -m netconform.cli --spec $(SPEC) analyze

# The reference manifests of architecture.yaml as files (a staleness test keeps them current).
manifests: venv
	$(PY) -m netconform.cli manifests --out manifests

bench: venv
	$(PY) -m bench

# A kind cluster of its own (netconform-bench), made from the local images and removed after.
bench-cluster: local-images
	@mkdir -p reports
	$(PY) -m bench.cluster_scaling $(ARGS)

# kind on a machine without registry access (see README): a Docker engine of our own.
docker-up: venv
	$(PY) -m netconform.offline.engine up

docker-down: venv
	$(PY) -m netconform.offline.engine down

local-images: docker-up
	$(PY) -m netconform.offline.local_images

# The engine, cluster lifecycle, pod exec and policy mutations on real Cilium; reuses the
# suites' cluster when `make test IMAGES=local ARGS=--keep-cluster` left it running.
# The wheel a user installs: the suites, their fixtures and the cluster data inside it.
dist: venv
	rm -rf dist
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist .

# examples/homelab, a user's Flux tree, tested as written on the local cluster by netconform
# installed from the wheel into a fresh venv outside the checkout and run from a copy of the
# example's folder; then its four mistakes and the analyzer held against Cilium on its policies.
# The released chart and CRDs (../shared) are named by the variables an installed copy reads.
EXAMPLE := examples/homelab
INSTALLED ?= $(or $(TMPDIR),/tmp)/netconform-installed
SHARED ?= $(abspath ../shared)
test-example: local-images dist
	@mkdir -p reports
	rm -rf $(INSTALLED) && $(PYTHON) -m venv $(INSTALLED)/venv
	$(INSTALLED)/venv/bin/pip install --quiet dist/netconform-*.whl
	cp -r $(EXAMPLE) $(INSTALLED)/homelab
	cd $(INSTALLED)/homelab && NETCONFORM_STATE=$(CURDIR)/.netconform \
	  NETCONFORM_REPORTS=$(CURDIR)/reports NETCONFORM_CHARTS=$(SHARED)/charts \
	  NETCONFORM_CRDS=$(SHARED)/crds $(INSTALLED)/venv/bin/netconform test --images=local -v \
	  --keep-cluster --junitxml=$(CURDIR)/reports/example.xml
	$(PYTEST) tests/localcluster/test_user_configuration.py -m localcluster --images=local \
	  --spec=$(EXAMPLE)/architecture.yaml --junitxml=reports/example-mistakes.xml

# The upgrade test's candidate is built first: a cold build outlasts pytest's per-test timeout.
UPGRADE_CANDIDATE ?= v1.20.2
test-local: local-images
	@mkdir -p reports
	$(PY) -m netconform.offline.local_images --cilium $(UPGRADE_CANDIDATE)
	NETCONFORM_UPGRADE_CANDIDATE=$(UPGRADE_CANDIDATE) \
	  $(PYTEST) tests/localcluster -m localcluster --images=local --junitxml=reports/local.xml \
	  --ignore=tests/localcluster/test_user_configuration.py

FUZZ_SETS ?= 40
FUZZ_SEED ?= 1
fuzz-policies: local-images
	@mkdir -p reports
	NETCONFORM_FUZZ_SETS=$(FUZZ_SETS) NETCONFORM_FUZZ_SEED=$(FUZZ_SEED) \
	  $(PYTEST) tests/localcluster/test_random_policies_against_cilium.py -m localcluster \
	  --images=local -s --junitxml=reports/fuzz-policies.xml

peer-netpol: local-images
	@mkdir -p reports
	$(PY) -m netconform.offline.peer_netpol $(ARGS)

clean:
	-$(PYTHON) -c 'from lab.topology import sweep_stale; print("\n".join(sweep_stale()))'
	-[ -x $(PY) ] && $(PY) -m netconform.cli clean $(if $(CONTEXT),--kube-context=$(CONTEXT))
	rm -rf reports/*.xml reports/*.md reports/*.html reports/2*/ $(VENV) .ruff_cache dist build
