"""The suites' fixtures, options and markers, wherever the suites run from."""

pytest_plugins = ["netconform.fixtures.plugin"]
