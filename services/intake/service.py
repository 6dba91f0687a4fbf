"""Composition root of the intake service: what it listens to, handles and serves."""

from services.intake.api import router
from services.intake.handlers import HANDLERS
from services.intake.scheduler import overdue_job
from services.intake.tables import metadata
from shared.amqp.topology import Binding
from shared.runtime import ServiceDefinition

# Routing keys on housing.events this service hears: the credit bans it projects, and review's
# rejections, which end a live application so that its members may apply again.
BINDINGS = (
    Binding("credit.ban_imposed"),
    Binding("credit.ban_lifted"),
    Binding("application.rejected"),
)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="intake",
        title="Intake 申请受理",
        description="Online and window applications, acceptance receipts and supplement notices.",
        metadata=metadata,
        bindings=BINDINGS,
        handlers=HANDLERS,
        routers=(router,),
        background=(overdue_job,),
    )
