"""Wiring the accounts domain: sessions, registration, login, devices, profiles."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.app.wiring.shared import Shared
from homeserver.config import Config
from homeserver.services.accounts.account_data import AccountDataService
from homeserver.services.accounts.accounts import AccountService
from homeserver.services.accounts.devices import DeviceService
from homeserver.services.accounts.filters import FilterService
from homeserver.services.accounts.login import JwtSettings, LoginService
from homeserver.services.accounts.openid import OpenIdService
from homeserver.services.accounts.password_attempts import PasswordAttempts
from homeserver.services.accounts.profile import ProfileService, RemoteProfiles
from homeserver.services.accounts.tokens import TokenService
from homeserver.services.accounts.ui_auth import UiAuthService
from homeserver.services.accounts.user_directory import UserDirectoryService
from homeserver.storage.factory import Stores


@dataclass(frozen=True, slots=True)
class AccountServices:
    """The accounts domain's services."""

    tokens: TokenService
    ui_auth: UiAuthService
    accounts: AccountService
    login: LoginService
    devices: DeviceService
    profile: ProfileService
    account_data: AccountDataService
    filters: FilterService
    user_directory: UserDirectoryService
    openid: OpenIdService


def build_accounts(
    config: Config, stores: Stores, shared: Shared, remote_profiles: RemoteProfiles | None = None
) -> AccountServices:
    """Sessions, user-interactive auth, registration, login, devices and profiles (remote
    users' profiles through `remote_profiles` when federation is on)."""
    clock, limiter = shared.clock, shared.limiter
    tokens = TokenService(stores.tokens, clock, config.access_token_lifetime_ms)
    ui_auth = UiAuthService(
        stores.ui_auth,
        stores.users,
        clock,
        config.ui_auth_session_timeout_ms,
        PasswordAttempts(limiter, config.rate_limits.login_failures),
    )
    accounts = AccountService(
        server_name=shared.server_name,
        users=stores.users,
        profiles=stores.profiles,
        ui_auth_store=stores.ui_auth,
        ui_auth=ui_auth,
        tokens=tokens,
        clock=clock,
        registration_enabled=config.enable_registration,
        registration_requires_token=config.registration_requires_token,
        refresh_tokens_enabled=config.refresh_tokens,
    )
    login = LoginService(
        server_name=shared.server_name,
        users=stores.users,
        tokens=tokens,
        limiter=limiter,
        login_limit=config.rate_limits.login,
        failure_limit=config.rate_limits.login_failures,
        clock=clock,
        password_login=config.password_login,
        jwt_settings=_jwt_settings(config),
        refresh_tokens_enabled=config.refresh_tokens,
    )
    return AccountServices(
        tokens=tokens,
        ui_auth=ui_auth,
        accounts=accounts,
        login=login,
        devices=DeviceService(stores.devices, ui_auth, shared.caches),
        profile=ProfileService(
            stores.profiles, server_name=shared.server_name, remote=remote_profiles
        ),
        account_data=AccountDataService(stores.account_data, shared.notifier),
        filters=FilterService(stores.sync),
        user_directory=UserDirectoryService(stores.directory),
        openid=OpenIdService(
            server_name=shared.server_name, store=stores.openid_tokens, clock=clock
        ),
    )


def _jwt_settings(config: Config) -> JwtSettings | None:
    jwt = config.jwt
    if not jwt.enabled:
        return None
    key = jwt.secret if jwt.algorithm.startswith("HS") else jwt.public_key
    if key is None:
        return None
    return JwtSettings(
        key=key,
        algorithm=jwt.algorithm,
        subject_claim=jwt.subject_claim,
        issuer=jwt.issuer,
        audiences=jwt.audiences,
    )
