"""The conformance suites (packaged as netconform.suites): each says what is expected."""
