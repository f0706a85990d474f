"""Build the binaries netconform needs from Go modules: control plane, kind node, Cilium, Helm.

The test machines reach no image registry and no source host, only the Go
module proxy, so kube-apiserver, kube-controller-manager, etcd, CoreDNS and the
generic Cilium operator are compiled from their published modules.  Each
upstream module is built inside a small wrapper module that is generated here
(never committed), because the directives that make an upstream build work
(`replace`, `exclude`, `godebug`) only take effect in the main module.

Run from the repository root::

    python -m netconform.offline.gobuild [--only NAME ...] [--list]

Binaries land in ``~/.cache/netconform/bin/<name>-<version>`` and are reused
until the version in ``cluster/versions.yaml`` changes.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from netconform import versions as pinned
from netconform.offline.cache import BIN_DIR, GOMOD_DIR, tilde

STDERR_TAIL_LINES = 30
# `tool` directives (which let `go mod tidy` keep the requirements of a module
# without Go source) need go >= 1.24 in go.mod.
MIN_GO_DIRECTIVE = (1, 24)
# The module proxy withholds some versions that upstream tags pin (403/404/410);
# each round of `go mod tidy` substitutes the ones it reports, so bound it.
MAX_SUBSTITUTION_ROUNDS = 5
WITHHELD = re.compile(r"(?P<mod>[^\s:@]+)@(?P<ver>v[^\s:]+): reading \S+: (?:403|404|410)\b")
SHIMS_DIR = Path(__file__).with_name("shims")
# Stand-ins for withheld modules that have no served version at all, keyed by
# module path: file name -> content.  Each must match what upstream exposes to
# the importers that are built here, and nothing more.
SHIMS: dict[str, dict[str, str]] = {
    # cilium >= 1.19 imports it (pkg/clustermesh/mcsapi, operator gateway-api
    # helpers) only for this constant; the value is the MCS API's annotation.
    "sigs.k8s.io/mcs-api/controllers": {
        "controllers.go": (
            "// Stand-in written by netconform's builder: the module proxy withholds\n"
            "// sigs.k8s.io/mcs-api/controllers.\n"
            "package controllers\n\n"
            "// DerivedServiceAnnotation names the Service derived from a ServiceImport.\n"
            'const DerivedServiceAnnotation = "multicluster.kubernetes.io/derived-service"\n'
        ),
    },
    # SPIRE's EJBCA UpstreamAuthority plugin alone imports it; no Cilium install uses it.
    "github.com/Keyfactor/ejbca-go-client-sdk": {
        "api/ejbca/ejbca.go": (SHIMS_DIR / "ejbca.go").read_text()
    },
}


class BuildError(RuntimeError):
    """A build step failed; `tail` carries go's last output lines for the reader."""

    def __init__(self, message: str, tail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.tail = list(tail)


@dataclass(frozen=True)
class Upstream:
    """What the wrapper must reproduce from the upstream tag's own go.mod."""

    module: str
    version: str
    gomod: dict[str, Any]
    time: str  # commit time of the tag, RFC 3339, from the proxy's .info


def copy_versioned_replaces(up: Upstream) -> list[tuple[str, str]]:
    """Copy upstream's module-to-module replaces; path replaces cannot apply here.

    Relative-path replaces point into upstream's repository checkout, which a
    module download does not have; the required versions stand in for them.
    """
    out: list[tuple[str, str]] = []
    for rep in up.gomod.get("Replace") or []:
        new = rep["New"]
        if "Version" not in new:
            continue
        out.append((_mod_ref(rep["Old"]), f"{new['Path']} {new['Version']}"))
    return out


def no_ldflags(up: Upstream) -> list[str]:
    return []


@dataclass(frozen=True)
class Component:
    """One upstream module and the binaries built from it.

    Several binaries share one wrapper (kube-apiserver and
    kube-controller-manager) so that they are resolved against the same build
    list and the module graph is tidied once.
    """

    key: str  # key in versions.yaml and name of the wrapper module
    module: str
    binaries: dict[str, str]  # binary name -> main package
    tags: tuple[str, ...] = ()
    replaces: Callable[[Upstream], list[tuple[str, str]]] = copy_versioned_replaces
    ldflags: Callable[[Upstream], list[str]] = no_ldflags
    # A static cgo build, as upstream's `make build-static` (SPIRE's sqlite3 datastore).
    cgo: bool = False
    # Programs of the wrapper module itself: directory in the wrapper -> source folder here.
    own_packages: tuple[tuple[str, Path], ...] = ()

    @property
    def wrapper_module(self) -> str:
        return f"netconform/build/{self.key}"


def kubernetes_replaces(up: Upstream) -> list[tuple[str, str]]:
    """Point each staging module at its published v0.N.M twin.

    k8s.io/kubernetes requires its staging modules at v0.0.0 (never published)
    and resolves them through `=> ./staging/src/...`, which the module zip
    lacks; the list is derived from the tag's go.mod so new staging modules
    (1.36 added cri-streaming and streaming) are picked up without edits.
    """
    staging_version = "v0" + up.version.removeprefix("v1")
    out = copy_versioned_replaces(up)
    for rep in up.gomod.get("Replace") or []:
        if rep["New"]["Path"].startswith("./staging/src/"):
            out.append((rep["Old"]["Path"], f"{rep['Old']['Path']} {staging_version}"))
    if not any(new.endswith(staging_version) for _, new in out):
        raise BuildError(
            f"no '=> ./staging/src/' replaces found in k8s.io/kubernetes@{up.version} go.mod; "
            "the staging layout changed, adapt kubernetes_replaces()"
        )
    return out


def kubernetes_ldflags(up: Upstream) -> list[str]:
    """Stamp the version as hack/lib/version.sh does.

    Unstamped binaries report v0.0.0-master, and cilium-operator refuses to
    start against an apiserver below its minimal version.  buildDate is the
    tag's commit time so that rebuilding the same version is reproducible.
    """
    match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+.*", up.version)
    if not match:
        raise BuildError(f"kubernetes version {up.version!r} is not vMAJOR.MINOR.PATCH")
    values = {
        "gitVersion": up.version,
        "gitMajor": match.group(1),
        "gitMinor": match.group(2),
        # The proxy does not record the commit; a recognisable placeholder.
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": up.time,
    }
    flags: list[str] = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{key}={value}" for key, value in values.items()]
    return flags


def cilium_ldflags(up: Upstream) -> list[str]:
    """Stamp "<version> <revision> <time>" as upstream's Makefile.defs does; `cilium-dbg
    status` and the agents' version checks parse those fields. The proxy does not record
    the commit, so the revision is a recognisable placeholder."""
    stamp = f"{up.version.lstrip('v')} 0000000 {up.time}"
    return [f'-X "github.com/cilium/cilium/pkg/version.ciliumVersion={stamp}"']


def spire_ldflags(up: Upstream) -> list[str]:
    """The version stamp of SPIRE's Makefile, without the tag's "v" (SPIRE parses it as
    semver); unstamped, it reports "<base>-dev-unk"."""
    return [f"-X github.com/spiffe/spire/pkg/common/version.gittag={up.version.lstrip('v')}"]


def cert_manager_ldflags(up: Upstream) -> list[str]:
    return [f"-X github.com/cert-manager/cert-manager/pkg/util.AppVersion={up.version}"]


def helm_ldflags(up: Upstream) -> list[str]:
    """Helm's Makefile stamps its version and the Kubernetes version it defaults to (from
    the client-go it builds with); unstamped, `helm template` assumes v1.20 and refuses
    charts that need newer, such as Cilium's (kubeVersion >= 1.21)."""
    requires = {r["Path"]: r["Version"] for r in up.gomod.get("Require") or []}
    client_go = requires.get("k8s.io/client-go")
    if client_go is None:
        raise BuildError(f"helm {up.version} go.mod requires no k8s.io/client-go")
    minor = client_go.split(".")[1]
    flags = [
        f"-X helm.sh/helm/v3/internal/version.version={up.version}",
        "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
    ]
    for pkg in ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"):
        flags += [f"-X {pkg}.k8sVersionMajor=1", f"-X {pkg}.k8sVersionMinor={minor}"]
    return flags


COMPONENTS: tuple[Component, ...] = (
    Component(
        key="kubernetes",
        module="k8s.io/kubernetes",
        binaries={
            "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
            "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
            # The rest make a kind node (netconform.offline.images), built only when asked for.
            "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
            "kubelet": "k8s.io/kubernetes/cmd/kubelet",
            "kubeadm": "k8s.io/kubernetes/cmd/kubeadm",
            "kubectl": "k8s.io/kubernetes/cmd/kubectl",
            # `make peer-netpol`: the upstream NetworkPolicy e2e tests and their probe program.
            "agnhost": "k8s.io/kubernetes/test/images/agnhost",
            "netpol-e2e": "netconform/build/kubernetes/netpol-e2e",
        },
        own_packages=(("netpol-e2e", Path(__file__).with_name("netpol_e2e")),),
        replaces=kubernetes_replaces,
        ldflags=kubernetes_ldflags,
    ),
    Component(
        key="etcd",
        module="go.etcd.io/etcd/server/v3",
        binaries={"etcd": "go.etcd.io/etcd/server/v3"},
    ),
    Component(
        key="coredns",
        module="github.com/coredns/coredns",
        binaries={"coredns": "github.com/coredns/coredns"},
    ),
    Component(
        key="cri_tools",
        module="sigs.k8s.io/cri-tools",
        binaries={"crictl": "sigs.k8s.io/cri-tools/cmd/crictl"},
    ),
    Component(
        key="kind",
        module="sigs.k8s.io/kind",
        binaries={"kind": "sigs.k8s.io/kind"},
    ),
    Component(
        key="cilium",
        module="github.com/cilium/cilium",
        binaries={
            "cilium-operator-generic": "github.com/cilium/cilium/operator",
            # The rest make the Cilium images of a local kind cluster, built only when asked for.
            "cilium-agent": "github.com/cilium/cilium/daemon",
            "cilium-dbg": "github.com/cilium/cilium/cilium-dbg",
            "cilium-health": "github.com/cilium/cilium/cilium-health",
            "cilium-health-responder": "github.com/cilium/cilium/cilium-health/responder",
            "cilium-mount": "github.com/cilium/cilium/tools/mount",
            "cilium-sysctlfix": "github.com/cilium/cilium/tools/sysctlfix",
            "cilium-cni": "github.com/cilium/cilium/plugins/cilium-cni",
            "hubble": "github.com/cilium/cilium/hubble",
            "hubble-relay": "github.com/cilium/cilium/hubble-relay",
        },
        # The operator Makefile's generic variant: no cloud IPAM providers.
        tags=("ipam_provider_operator",),
        ldflags=cilium_ldflags,
    ),
    Component(
        key="spire",
        module="github.com/spiffe/spire",
        binaries={
            "spire-server": "github.com/spiffe/spire/cmd/spire-server",
            "spire-agent": "github.com/spiffe/spire/cmd/spire-agent",
        },
        # Static glibc without its NSS lookups (upstream links musl statically).
        tags=("netgo", "osusergo"),
        ldflags=spire_ldflags,
        cgo=True,
    ),
    Component(
        key="cert_manager_local",
        module="github.com/cert-manager/cert-manager",
        binaries={
            "cert-manager-controller": "github.com/cert-manager/cert-manager/cmd/controller",
            "cert-manager-webhook": "github.com/cert-manager/cert-manager/cmd/webhook",
            "cert-manager-cainjector": "github.com/cert-manager/cert-manager/cmd/cainjector",
        },
        ldflags=cert_manager_ldflags,
    ),
    Component(
        key="helm",
        module="helm.sh/helm/v3",
        binaries={"helm": "helm.sh/helm/v3/cmd/helm"},
        ldflags=helm_ldflags,
    ),
)
BINARIES: dict[str, Component] = {name: c for c in COMPONENTS for name in c.binaries}


def component_versions(
    pins: Mapping[str, str] | None = None, path: Path = pinned.PINS_FILE
) -> dict[str, str]:
    """The version of each component built here, from the pins.

    `pins` overrides single keys so a candidate version can be tried before
    versions.yaml is changed.
    """
    data = pinned.load_versions(path)
    versions: dict[str, str] = {}
    for comp in COMPONENTS:
        try:
            versions[comp.key] = pinned.version(data, comp.key)
        except KeyError as exc:
            raise BuildError(f"{path.name} has no {comp.key}.version") from exc
    for key, version in (pins or {}).items():
        if key not in versions:
            raise BuildError(f"unknown version key {key!r}; known: {', '.join(versions)}")
        versions[key] = version
    return versions


def binary_path(name: str, versions: dict[str, str] | None = None) -> Path:
    """Where `name` at its pinned version lives (built or not).

    The Cilium operator derives its default --ipam from the basename of
    argv[0], so start it with argv[0] set to the plain name, e.g.
    ``subprocess.Popen(["cilium-operator-generic", ...], executable=path)``.
    """
    if name not in BINARIES:
        raise BuildError(f"unknown binary {name!r}; known: {', '.join(BINARIES)}")
    versions = versions or component_versions()
    return BIN_DIR / f"{name}-{versions[BINARIES[name].key]}"


def _mod_ref(mod: dict[str, str]) -> str:
    return f"{mod['Path']} {mod['Version']}" if mod.get("Version") else mod["Path"]


def _go_env() -> dict[str, str]:
    """The build environment: upstream-like, static, offline of any local toolchain.

    GOTOOLCHAIN=local: a go line above the installed Go must fail loudly rather
    than fetch a toolchain.  -buildvcs=false: the wrapper dir may sit inside a
    VCS checkout (a dotfiles $HOME) whose state must not leak into binaries.
    CGO_ENABLED=0: all four upstream release builds are static.  GOWORK=off:
    a go.work above the cache must not join the wrapper's build list.
    """
    env = dict(os.environ)
    env.update(
        GOTOOLCHAIN="local",
        GOFLAGS="-trimpath -buildvcs=false",
        CGO_ENABLED="0",
        GOWORK="off",
    )
    return env


class Runner:
    """Runs go with low priority, logging everything to the wrapper's build.log.

    The machines have two cores and tests or other builds run alongside, hence
    `nice`; full output goes to the log because `go mod tidy` alone prints
    hundreds of download lines.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.nice = ["nice", "-n", "10"] if shutil.which("nice") else []
        self.last_stderr = ""

    def go(
        self,
        args: Sequence[str],
        cwd: Path,
        logfile: Path,
        what: str,
        check: bool = True,
        cgo: bool = False,
    ) -> str:
        cmd = [*self.nice, "go", *args]
        env = {**_go_env(), "CGO_ENABLED": "1"} if cgo else _go_env()
        with logfile.open("a") as fh:
            fh.write(f"\n$ {' '.join(cmd)}\n")
            fh.flush()
            proc = subprocess.run(
                cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False
            )
            fh.write(proc.stderr)
            self.last_stderr = proc.stderr
            if proc.returncode != 0 and check:
                fh.write(proc.stdout)
                tail = (proc.stderr or proc.stdout).splitlines()[-STDERR_TAIL_LINES:]
                raise BuildError(
                    f"{what} failed (go exit {proc.returncode}); full log: {tilde(logfile)}", tail
                )
        return proc.stdout


def resolve_upstream(comp: Component, version: str, runner: Runner, logfile: Path) -> Upstream:
    """Download the tag and read its go.mod; turn 'not served' into a pin to fix."""
    ref = f"{comp.module}@{version}"
    runner.log(f"[{comp.key} {version}] go mod download {ref}")
    # -json reports a failed download in the JSON (and exits 1), not on stderr.
    out = runner.go(["mod", "download", "-json", ref], GOMOD_DIR, logfile, ref, check=False)
    try:
        info = json.loads(out)
    except json.JSONDecodeError:
        info = {"Error": out.strip() or "no output from go mod download"}
    if info.get("Error"):
        error = str(info["Error"])
        tail = error.splitlines()[-STDERR_TAIL_LINES:]
        if re.search(r"\b(403|404|410)\b|not available|unknown revision|invalid version", error):
            raise BuildError(_not_served_hint(comp, version, runner, logfile), tail)
        raise BuildError(f"go mod download {ref} failed; check the module proxy (GOPROXY)", tail)
    gomod_json = runner.go(
        ["mod", "edit", "-json", info["GoMod"]], GOMOD_DIR, logfile, f"read go.mod of {ref}"
    )
    stamp = json.loads(Path(info["Info"]).read_text()).get("Time", "")
    if stamp:
        stamp = datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Upstream(comp.module, version, json.loads(gomod_json), stamp)


def _not_served_hint(comp: Component, version: str, runner: Runner, logfile: Path) -> str:
    try:
        listed = runner.go(
            ["list", "-m", "-versions", comp.module],
            GOMOD_DIR,
            logfile,
            f"list versions of {comp.module}",
        ).split()[1:]
    except BuildError:
        listed = []
    want = _version_key(version)
    releases = sorted((v for v in listed if "-" not in v and _version_key(v)), key=_version_key)
    nearest = ""
    if want and releases:
        below = [v for v in releases if (_version_key(v) or ()) <= want]
        nearest = below[-1] if below else releases[0]
    hint = f"; nearest listed: {nearest}" if nearest else ""
    return (
        f"{comp.module}@{version} is not served by the Go module proxy{hint} "
        f"(listed: {' '.join(releases[-8:]) or 'none'}); "
        f"set {comp.key}.version in cluster/versions.yaml to a served version"
    )


def _version_key(version: str) -> tuple[Any, ...] | None:
    """Semver order, enough to place pseudo-versions among releases."""
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+\S*)?", version)
    if not match:
        return None
    pre = match.group(4)
    ids = tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in (pre or "").split("."))
    return (*(int(g) for g in match.group(1, 2, 3)), 0 if pre else 1, ids if pre else ())


def substitute_withheld(
    module: str, version: str, workdir: Path, runner: Runner, logfile: Path
) -> str:
    """Pick what stands in for a withheld module version, as a replace target.

    The lowest listed version above the pinned one is what upstream itself
    would move to next (same line of development, MVS only goes up); a module
    with no served version falls back to a SHIMS entry.  Compile errors after
    a substitution mean the newer API differs and need a human.
    """
    listed = runner.go(
        ["list", "-m", "-versions", module], GOMOD_DIR, logfile, f"list {module}", check=False
    ).split()[1:]
    want = _version_key(version)
    newer = sorted(
        (v for v in listed if (k := _version_key(v)) and want and k > want), key=_version_key
    )
    if newer:
        runner.log(f"  {module}@{version} is withheld by the proxy; using {newer[0]}")
        return f"{module} {newer[0]}"
    if module in SHIMS:
        shim = workdir / "shim" / module
        shim.mkdir(parents=True, exist_ok=True)
        (shim / "go.mod").write_text(f"module {module}\n\ngo 1.24\n")
        for name, text in SHIMS[module].items():
            (shim / name).parent.mkdir(parents=True, exist_ok=True)
            (shim / name).write_text(text)
        runner.log(f"  {module}@{version} is withheld by the proxy; using the builder's shim")
        return "./" + shim.relative_to(workdir).as_posix()
    raise BuildError(
        f"{module}@{version} is withheld by the module proxy and no newer version is listed "
        f"(listed: {' '.join(listed[-8:]) or 'none'}); add a SHIMS entry or pick another "
        "upstream version"
    )


def _go_minor(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def render_gomod(comp: Component, up: Upstream, substitutes: Mapping[str, str]) -> str:
    """A wrapper go.mod that makes the dependency build as upstream's main module would."""
    go_line = up.gomod.get("Go") or "1.24"
    if _go_minor(go_line) < MIN_GO_DIRECTIVE:
        go_line = ".".join(map(str, MIN_GO_DIRECTIVE))
    lines = [
        "// Generated by netconform/offline/gobuild.py on every build; do not edit.",
        f"module {comp.wrapper_module}",
        "",
        f"go {go_line}",
        "",
    ]
    for debug in up.gomod.get("GoDebug") or []:
        lines.append(f"godebug {debug['Key']}={debug['Value']}")
    lines += ["", f"require {up.module} {up.version}", ""]
    replaces = [(old, new) for old, new in comp.replaces(up) if old not in substitutes]
    replaces += list(substitutes.items())
    if replaces:
        lines.append("replace (")
        lines += [f"\t{old} => {new}" for old, new in replaces]
        lines += [")", ""]
    excludes = up.gomod.get("Exclude") or []
    if excludes:
        lines.append("exclude (")
        lines += [f"\t{_mod_ref(ex)}" for ex in excludes]
        lines += [")", ""]
    upstream = {p for p in comp.binaries.values() if not p.startswith(comp.wrapper_module + "/")}
    lines.append("tool (")
    lines += [f"\t{pkg}" for pkg in sorted(upstream)]
    lines += [")", ""]
    return "\n".join(lines)


def prepare_wrapper(
    comp: Component, version: str, workdir: Path, runner: Runner, logfile: Path
) -> Upstream:
    """Write the wrapper go.mod from scratch and tidy it, substituting withheld versions.

    Regenerated on every build so that a changed pin or builder never meets a
    stale go.sum or build list.
    """
    up = resolve_upstream(comp, version, runner, logfile)
    local = runner.go(["env", "GOVERSION"], GOMOD_DIR, logfile, "go env").strip()
    if _go_minor(up.gomod.get("Go") or "") > _go_minor(local):
        raise BuildError(
            f"{comp.module}@{version} needs go {up.gomod['Go']} but the local toolchain is "
            f"{local} (builds use GOTOOLCHAIN=local); pin an older {comp.key}.version "
            "or install a newer Go"
        )
    shutil.rmtree(workdir / "shim", ignore_errors=True)
    for inside, source in comp.own_packages:
        shutil.rmtree(workdir / inside, ignore_errors=True)
        shutil.copytree(source, workdir / inside)
    substitutes: dict[str, str] = {}
    for _ in range(MAX_SUBSTITUTION_ROUNDS):
        (workdir / "go.sum").unlink(missing_ok=True)
        (workdir / "go.mod").write_text(render_gomod(comp, up, substitutes))
        runner.log(f"[{comp.key} {version}] wrote go.mod in {tilde(workdir)}; go mod tidy")
        try:
            runner.go(["mod", "tidy"], workdir, logfile, f"go mod tidy of {comp.key} {version}")
            return up
        except BuildError:
            withheld = {
                m["mod"]: m["ver"]
                for m in WITHHELD.finditer(runner.last_stderr)
                if m["mod"] not in substitutes
            }
            if not withheld:
                raise
            for module, pinned in withheld.items():
                substitutes[module] = substitute_withheld(module, pinned, workdir, runner, logfile)
    raise BuildError(
        f"go mod tidy of {comp.key} {version} still reports withheld modules after "
        f"{MAX_SUBSTITUTION_ROUNDS} rounds; full log: {tilde(logfile)}"
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise builds of one wrapper across processes (pytest-xdist workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build_component(
    comp: Component,
    version: str,
    wanted: Sequence[str],
    versions: dict[str, str],
    runner: Runner,
    results: dict[str, Path],
) -> None:
    workdir = GOMOD_DIR / f"{comp.key}-{version}"
    with _locked(GOMOD_DIR / f"{comp.key}-{version}.lock"):
        prepared = False
        ldflags = ""
        for name in wanted:
            started = time.monotonic()
            target = binary_path(name, versions)
            if target.is_file() and os.access(target, os.X_OK):
                runner.log(f"cached {name} {version} (0.0s)")
                results[name] = target
                continue
            logfile = workdir / "build.log"
            if not prepared:
                workdir.mkdir(parents=True, exist_ok=True)
                logfile.write_text("")
                up = prepare_wrapper(comp, version, workdir, runner, logfile)
                # -s -w as in all four upstream release builds: smaller
                # binaries and faster links; panics keep their stack traces.
                static = ["-linkmode external", '-extldflags "-static"'] if comp.cgo else []
                ldflags = " ".join(["-s", "-w", *static, *comp.ldflags(up)])
                prepared = True
            BIN_DIR.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
            pkg = comp.binaries[name]
            runner.log(f"[{name} {version}] go build {pkg}")
            args = ["build", "-ldflags", ldflags, "-o", str(tmp)]
            if comp.tags:
                args += ["-tags", ",".join(comp.tags)]
            try:
                runner.go(
                    [*args, pkg], workdir, logfile, f"go build of {name} {version}", cgo=comp.cgo
                )
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            runner.log(f"built {name} {version} in {time.monotonic() - started:.1f}s")
            results[name] = target


def ensure(
    names: Iterable[str] | None = None,
    log: Callable[[str], None] | None = None,
    pins: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Return the binaries by name, building the missing ones first.

    Meant for session fixtures: a cold build takes many minutes on two cores,
    a warm call only stats files.  Raises BuildError with go's output tail.
    """
    log = log or (lambda line: print(line, flush=True))
    versions = component_versions(pins)
    selected = list(dict.fromkeys(BINARIES if names is None else names))
    for name in selected:
        binary_path(name, versions)  # validates the name
    runner = Runner(log)
    GOMOD_DIR.mkdir(parents=True, exist_ok=True)
    results: dict[str, Path] = {}
    for comp in COMPONENTS:
        wanted = [n for n in comp.binaries if n in selected]
        if wanted:
            _build_component(comp, versions[comp.key], wanted, versions, runner, results)
    return {name: results[name] for name in selected}


def module_source(key: str, pins: Mapping[str, str] | None = None) -> Path:
    """The pinned module's files in the module cache, downloaded if missing: for what a build
    does not compile (a chart, CRDs)."""
    comp = next((c for c in COMPONENTS if c.key == key), None)
    if comp is None:
        raise KeyError(f"no component {key!r}")
    ref = f"{comp.module}@{component_versions(pins)[key]}"
    GOMOD_DIR.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["go", "mod", "download", "-json", ref],
        cwd=GOMOD_DIR,
        env=_go_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        info = {"Error": proc.stderr.strip() or "no output"}
    if info.get("Error") or not info.get("Dir"):
        raise BuildError(f"go mod download {ref}: {info.get('Error', 'no directory')}")
    return Path(info["Dir"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m netconform.offline.gobuild",
        description="Build the control-plane test binaries from Go modules.",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=list(BINARIES),
        help="build only these binaries",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="show each binary, its pinned version and whether it is built",
    )
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="KEY=VERSION",
        help="override a versions.yaml key for this run, e.g. cilium=v1.20.2",
    )
    args = parser.parse_args(argv)
    try:
        pins = dict(pin.split("=", 1) for pin in args.pin if "=" in pin)
        if len(pins) != len(args.pin):
            raise BuildError("--pin takes KEY=VERSION, e.g. --pin cilium=v1.20.2")
        if args.list:
            versions = component_versions(pins)
            for name in args.only or BINARIES:
                path = binary_path(name, versions)
                state = "cached " if path.is_file() else "missing"
                print(f"{name:<26} {versions[BINARIES[name].key]:<10} {state} {tilde(path)}")
            return 0
        ensure(args.only, pins=pins)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for line in exc.tail:
            print(f"  | {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
