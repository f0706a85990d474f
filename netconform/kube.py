"""A thin adapter over the `kubernetes` client: apply, wait, get, delete.

Only what the suite needs, with errors that name the object and carry the
API server's own message (a rejected manifest must say why, not just 422).
Everything is server-side apply with one field manager, so re-applying is
idempotent and a dry run runs the server's full validation (schemas, CEL).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from kubernetes import config
from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
from kubernetes.dynamic.resource import Resource
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from netconform.manifest import Manifest, describe

FIELD_MANAGER = "netconform"
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
NAMESPACE = ("v1", "Namespace")


class KubeError(RuntimeError):
    """Something the API server refused or never reached; the message says which object."""


def server_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body)["message"])
    except (TypeError, ValueError, KeyError):
        return f"{error.status} {error.reason}"


def conditions(obj: Manifest | None) -> dict[str, Manifest]:
    found = (obj or {}).get("status", {}).get("conditions") or []
    return {c["type"]: c for c in found}


class Kube:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.dynamic = DynamicClient(api)

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None) -> Kube:
        return cls(config.new_client_from_config(config_file=str(path), context=context))

    def core(self) -> CoreV1Api:
        return CoreV1Api(self.api)

    def resource(self, api_version: str, kind: str) -> Resource:
        for attempt in range(2):
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                if attempt == 0:
                    self.dynamic.resources.invalidate_cache()  # a CRD may have just arrived
        raise KubeError(
            f"the API server does not serve {kind} in {api_version}: is its CRD installed?"
        )

    def apply(
        self, manifests: Iterable[Manifest], dry_run: bool = False, timeout: float = 60
    ) -> list[Manifest]:
        """Server-side apply: CRDs first (waiting until Established), namespaces, the rest."""
        ordered = sorted(
            manifests, key=lambda m: (m.get("kind") != CRD[1], m.get("kind") != NAMESPACE[1])
        )
        crds = [m for m in ordered if m.get("kind") == CRD[1]]
        applied = [self._apply_one(m, dry_run) for m in crds]
        if crds and not dry_run:
            for crd in crds:
                self.wait_condition(
                    *CRD, crd["metadata"]["name"], None, "Established", timeout=timeout
                )
        applied += [self._apply_one(m, dry_run) for m in ordered[len(crds) :]]
        return applied

    def _apply_one(self, manifest: Manifest, dry_run: bool) -> Manifest:
        try:
            resource = self.resource(manifest["apiVersion"], manifest["kind"])
        except KeyError as missing:
            raise KubeError(f"{describe(manifest)}: manifest has no {missing}") from None
        try:
            applied = resource.server_side_apply(
                body=manifest,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                dry_run="All" if dry_run else None,
            )
        except ApiException as error:
            raise KubeError(f"{describe(manifest)} rejected: {server_message(error)}") from None
        return applied.to_dict()

    def set_condition(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        condition: Manifest,
    ) -> None:
        """Put one condition in an object's status (replacing one of its type), as a
        controller's client would; cert-manager's `cmctl renew` sets Issuing this way."""
        resource = self.resource(api_version, kind)
        found = self.get(api_version, kind, name, namespace)
        if found is None:
            raise KubeError(f"{kind} {namespace or ''}/{name} not found")
        kept = [
            c
            for c in ((found.get("status") or {}).get("conditions") or [])
            if c.get("type") != condition["type"]
        ]
        try:
            self.dynamic.patch(
                resource.subresources["status"],
                body={"status": {"conditions": [*kept, condition]}},
                name=name,
                namespace=namespace,
                content_type="application/merge-patch+json",
            )
        except ApiException as error:
            raise KubeError(f"{kind} {name} status rejected: {server_message(error)}") from None

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Manifest | None:
        try:
            return self.resource(api_version, kind).get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[Manifest]:
        found = self.resource(api_version, kind).get(
            namespace=namespace, label_selector=label_selector
        )
        return [item.to_dict() for item in found.items]

    def wait_for(
        self,
        what: str,
        fetch: Callable[[], Manifest | None],
        ready: Callable[[Manifest | None], bool],
        timeout: float = 60,
        interval: float = 0.5,
    ) -> Manifest | None:
        """Poll fetch() until ready(); on timeout say what was awaited and what was last seen."""
        retrying = Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(interval),
            retry=retry_if_result(lambda obj: not ready(obj)),
        )
        try:
            return retrying(fetch)
        except RetryError as error:
            last = error.last_attempt.result() if not error.last_attempt.failed else None
            seen = json.dumps((last or {}).get("status"), default=str)[:400]
            raise KubeError(
                f"timed out after {timeout:g}s waiting for {what}; last status: {seen}"
            ) from None

    def wait_condition(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        condition: str,
        status: str = "True",
        timeout: float = 60,
    ) -> Manifest:
        found = self.wait_for(
            f"{kind} {name} condition {condition}={status}",
            lambda: self.get(api_version, kind, name, namespace),
            lambda obj: conditions(obj).get(condition, {}).get("status") == status,
            timeout,
        )
        assert found is not None
        return found

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        try:
            self.resource(api_version, kind).delete(name=name, namespace=namespace)
        except NotFoundError:
            return False
        return True

    def delete_by_label(
        self,
        kinds: Sequence[tuple[str, str]],
        label_selector: str,
        namespace: str | None = None,
    ) -> list[str]:
        """Delete every object of these kinds carrying the labels; returns what was deleted."""
        deleted = []
        for api_version, kind in kinds:
            for obj in self.list(api_version, kind, namespace, label_selector):
                meta = obj["metadata"]
                if self.delete(api_version, kind, meta["name"], meta.get("namespace")):
                    deleted.append(describe(obj))
        return deleted

    def delete_namespace(self, name: str, wait: bool = True, timeout: float = 120) -> None:
        """Delete and, by default, wait until the namespace is really gone (finalizers done)."""
        if self.delete(*NAMESPACE, name) and wait:
            self.wait_for(
                f"namespace {name} to be gone",
                lambda: self.get(*NAMESPACE, name),
                lambda obj: obj is None,
                timeout,
            )


def recent_events(kube: Kube, namespace: str, limit: int = 15) -> list[str]:
    """The newest non-Normal events of a namespace, one line each: attached to a failure."""
    events = kube.list("v1", "Event", namespace)
    warnings = [e for e in events if e.get("type") != "Normal"]
    warnings.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    lines = []
    for event in warnings[-limit:]:
        about = event.get("involvedObject") or {}
        message = (event.get("message") or "").strip()
        subject = f"{about.get('kind')}/{about.get('name')}"
        lines.append(f"{event.get('type')} {event.get('reason')} {subject}: {message}")
    return lines
