"""The platform's services, in one small module: the settings and the token command (which
must start without the settings machinery) both read it."""

SERVICES: tuple[str, ...] = (
    "intake",
    "review",
    "verification",
    "alerting",
    "publication",
    "credit",
    "allocation",
    "tenancy",
)
