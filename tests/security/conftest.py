"""The security suites reuse the service tests' world (tests/service/service_testkit.py)."""

from __future__ import annotations

import sys
from pathlib import Path

SERVICE_TESTS = str(Path(__file__).resolve().parents[1] / "service")
if SERVICE_TESTS not in sys.path:
    sys.path.insert(0, SERVICE_TESTS)
