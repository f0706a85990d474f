#!/bin/bash
# The agent pod's install-cni-binaries init container: put the Cilium CNI plugin and the
# loopback plugin into the host's CNI directory, mounted at /host/opt/cni/bin.
set -euo pipefail

dest=/host/opt/cni/bin
[[ -d "$dest" ]] || { echo "install-plugin: $dest is not mounted" >&2; exit 1; }
for plugin in /opt/cni/bin/cilium-cni /cni/loopback; do
  # Copy beside the target, then rename: a kubelet calling the plugin never sees half a file.
  cp "$plugin" "$dest/.$(basename "$plugin").new"
  chmod 0755 "$dest/.$(basename "$plugin").new"
  mv -f "$dest/.$(basename "$plugin").new" "$dest/$(basename "$plugin")"
  echo "installed $(basename "$plugin") into the host's CNI directory"
done
