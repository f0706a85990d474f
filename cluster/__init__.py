"""Cluster data (packaged as netconform.cluster_files): the pinned versions, the Helm values
overlays and the kind configs."""
