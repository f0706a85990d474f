"""Root conftest: the repository root is importable for every test, and the suites' plugin
(fixtures, options, markers) is registered for the project's own tests too."""

pytest_plugins = ["netconform.fixtures.plugin", "pytester"]
