"""The delivery tests' HTTPS receiver and CA, for the suites here that deliver."""

from tests.delivery.conftest import ca, ca_file, receiver

__all__ = ["ca", "ca_file", "receiver"]
