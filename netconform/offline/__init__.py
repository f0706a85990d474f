"""Environment tooling for machines that reach no image registry.

Users on such runners run it (`make local-images`, `netconform cluster up
--images=local`), so it is product, not test code: Go-built binaries from the
module proxy, a Docker engine of the suite's own, and the kind node and Cilium
images built from a Debian root filesystem.
"""
