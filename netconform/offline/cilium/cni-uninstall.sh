#!/bin/bash
# The agent's preStop hook: when the chart's cni.uninstall is on, take Cilium's CNI
# configuration off the node so that no pod is sent to an agent that is gone.
set -euo pipefail

setting=/tmp/cilium/config-map/cni-uninstall
if [[ -f "$setting" && "$(cat "$setting")" == "true" ]]; then
  rm -f /host/etc/cni/net.d/*cilium*
  echo "removed Cilium's CNI configuration"
fi
