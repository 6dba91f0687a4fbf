"""Department SDK (部门对接开发包): what a department system needs to answer the platform's
verification requests (协查请求) over RabbitMQ.

::

    from housing_department_sdk import Answer, DepartmentClient, VerificationRequested

    async def check(request: VerificationRequested) -> Answer:
        findings = [...]                      # search your own records for request.subjects
        return Answer(findings=findings) if findings else Answer.nothing_on_record()

    client = DepartmentClient(
        "real_estate",
        amqp_url="amqp://dept_real_estate:secret@mq.example.gov.cn:5672/",
        handler=check,
    )
    await client.run_until_signalled()

A request's ``purpose`` is ``admission`` (an application) or ``re_review`` (the annual
re-review of a tenant household, 年度复核): search your records the same way for both. Requests
may come one per message or several in one (``VerificationRequestBatch``): the client calls
your handler once per request either way and answers in the same form. The harness for your
own tests is :mod:`housing_department_sdk.testing`.
"""

from importlib.metadata import PackageNotFoundError, version

from housing_department_sdk.client import (
    ANSWER_NAMESPACE,
    Answer,
    DepartmentClient,
    Handler,
    TemporaryFailure,
    answer_batch_envelope,
    answer_batch_event_id,
    answer_envelope,
    answer_event_id,
)
from housing_department_sdk.models import (
    AssistanceFinding,
    BusinessFinding,
    DepartmentAnswerBatch,
    DepartmentAnswered,
    DisabilityFinding,
    ElectricityFinding,
    Envelope,
    FinancialAssetFinding,
    Finding,
    HukouFinding,
    IncomeFinding,
    MarriageFinding,
    PensionFinding,
    PropertyFinding,
    ProvidentFundFinding,
    Subject,
    VehicleFinding,
    VerificationRequestBatch,
    VerificationRequested,
    VeteranFinding,
    VitalFinding,
)

try:
    __version__ = version("housing-department-sdk")
except PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "ANSWER_NAMESPACE",
    "Answer",
    "AssistanceFinding",
    "BusinessFinding",
    "DepartmentAnswerBatch",
    "DepartmentAnswered",
    "DepartmentClient",
    "DisabilityFinding",
    "ElectricityFinding",
    "Envelope",
    "FinancialAssetFinding",
    "Finding",
    "Handler",
    "HukouFinding",
    "IncomeFinding",
    "MarriageFinding",
    "PensionFinding",
    "PropertyFinding",
    "ProvidentFundFinding",
    "Subject",
    "TemporaryFailure",
    "VehicleFinding",
    "VerificationRequestBatch",
    "VerificationRequested",
    "VeteranFinding",
    "VitalFinding",
    "__version__",
    "answer_batch_envelope",
    "answer_batch_event_id",
    "answer_envelope",
    "answer_event_id",
]
