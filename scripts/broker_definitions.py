"""Write deploy/rabbitmq/compose/definitions.json: the broker users compose starts with.

RabbitMQ imports the file at boot (deploy/rabbitmq/compose/20-definitions.conf): guest for
the department simulators and one development account per service (``housing_<service>``,
the password its name, as the services' default HOUSING_AMQP_URL_TEMPLATE expects; production
refuses those passwords and uses deploy/rabbitmq/service_users.sh). Run it again after adding
a service: ``PYTHONPATH=. uv run python scripts/broker_definitions.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from pathlib import Path

from shared.settings import SERVICES

TARGET = (
    Path(__file__).resolve().parents[1] / "deploy" / "rabbitmq" / "compose" / "definitions.json"
)


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions() -> dict[str, object]:
    users = [("guest", "guest", "administrator")] + [
        (f"housing_{s}", f"housing_{s}", "") for s in SERVICES
    ]
    return {
        "vhosts": [{"name": "/"}],
        "users": [
            {
                "name": name,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": tags,
            }
            for name, password, tags in users
        ],
        "permissions": [
            {"user": name, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
            for name, _, _ in users
        ],
    }


if __name__ == "__main__":
    TARGET.write_text(json.dumps(definitions(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}")
