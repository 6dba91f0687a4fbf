"""FastAPI dependencies: the current principal and role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.principal import ADMIN, Principal, can_act, can_read
from shared.auth.tokens import token_keys, verify_token
from shared.problems import Forbidden, Unauthorized

__all__ = [
    "CurrentPrincipal",
    "ensure_can_act",
    "ensure_can_read",
    "get_principal",
    "principal_from_token",
    "require_roles",
]

# auto_error=False: a missing token must be our 401 problem, not FastAPI's own error body.
# The scheme also makes /docs offer an "Authorize" button.
_bearer = HTTPBearer(auto_error=False, description="平台签发的 JWT（OAuth2 bearer）")


def principal_from_token(request: Request, token: str) -> Principal:
    """Verify ``token`` against the key set, audience and lifetime limit of
    ``request.app.state.settings``."""
    settings = request.app.state.settings
    return verify_token(
        token,
        keys=token_keys(settings.token_jwks),
        audience=settings.token_audience,
        max_lifetime=timedelta(hours=settings.token_max_lifetime_hours),
    )


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of this request, from ``Authorization: Bearer <token>``.

    Async on purpose: FastAPI runs sync dependencies in a worker thread, where binding
    structlog contextvars would not reach the endpoint's log lines.
    """
    if credentials is None or not credentials.credentials:
        raise Unauthorized("缺少身份令牌")
    principal = principal_from_token(request, credentials.credentials)
    # The subject, never the name: names are personal data.
    structlog.contextvars.bind_contextvars(user=principal.sub)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through principals holding one of ``roles``.

    Separation of duties: ``admin`` administers and does no business. An admin passes only
    where ``ADMIN`` is among ``roles``, and an account that is admin is refused any business
    action even when its token also carries the business role (one person must not both
    configure the platform and approve what it decides).

    Use as ``Annotated[Principal, Depends(require_roles(STREET_CLERK))]`` or in
    ``dependencies=[Depends(...)]``.
    """
    if not roles:
        raise ValueError("require_roles needs at least one role")
    needed = "、".join(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.is_admin and ADMIN not in roles:
            raise Forbidden(
                "管理员账号只做系统管理，不办理业务", extra={"required_roles": list(roles)}
            )
        if not principal.has_role(*roles):
            raise Forbidden(f"需要以下角色之一：{needed}", extra={"required_roles": list(roles)})
        return principal

    return dependency


def ensure_can_read(principal: Principal, unit: str) -> None:
    """Raise ``Forbidden`` unless ``principal`` may read data of ``unit``."""
    if not can_read(principal, unit):
        raise Forbidden("无权查看该单位的数据")


def ensure_can_act(principal: Principal, unit: str) -> None:
    """Raise ``Forbidden`` unless ``principal`` may act in ``unit``."""
    if not can_act(principal, unit):
        raise Forbidden("无权在该单位办理业务")
