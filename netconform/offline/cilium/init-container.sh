#!/bin/bash
# The agent pod's clean-cilium-state init container: remove what an earlier agent left
# behind when the cilium-config ConfigMap asks for it, then hand over to the agent.
set -euo pipefail

if [[ "${CILIUM_ALL_STATE:-false}" == "true" ]]; then
  echo "removing all Cilium state (clean-cilium-state)"
  cilium-dbg post-uninstall-cleanup --force --all-state
elif [[ "${CILIUM_BPF_STATE:-false}" == "true" ]]; then
  echo "removing Cilium's BPF state (clean-cilium-bpf-state)"
  cilium-dbg post-uninstall-cleanup --force --bpf-state
fi

# With write-cni-conf-when-ready the agent writes the CNI configuration once it can serve
# pods; a stale file from before would send pods to an agent that is not there yet.
if [[ "${WRITE_CNI_CONF_WHEN_READY:-}" != "" ]]; then
  rm -f "${WRITE_CNI_CONF_WHEN_READY}"
fi
