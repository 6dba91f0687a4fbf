"""Reference receiver of the provincial supervision platform (省监管系统) for tests and demos.

It verifies the HMAC-SHA256 signature of each push, stores what it received (deduplicated by
push id), and acknowledges with 200. It can be told to fail the next N requests (503) to
exercise the sender's retries. ``python -m simulators.province`` serves it; see
:mod:`simulators.province.app` for the wire contract.
"""

from simulators.province.app import ProvinceReceiver, create_app

__all__ = ["ProvinceReceiver", "create_app"]
