"""Verification's problem types (RFC 9457 answers through ``shared.problems``).

``domain.py`` raises no exceptions of its own, so there is nothing to translate: the commands
raise these (and the shared ``NotFound``/``Conflict``/``Forbidden``/``ValidationProblem``)
directly.
"""

from __future__ import annotations

from shared.problems import NotFound, ValidationProblem


class UnknownRequest(NotFound):
    """An answer to a request that does not exist (or belongs to another department)."""

    title = "协查请求不存在"


class AnswerRejected(ValidationProblem):
    """An answer whose content cannot be accepted (findings about people not asked about)."""

    title = "协查反馈内容不符合要求"
