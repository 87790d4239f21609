"""Who made a request, as established by authentication."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.auth.sessions import Session


@dataclass(frozen=True)
class Principal:
    account_id: str
    user_name: str  # the IAM user; for a role session, the role
    user_id: str  # AIDA...; for a role session AROA...:<session name>, as AWS writes it
    access_key_id: str
    session: Session | None = None  # temporary credentials from STS

    @property
    def role_session(self) -> bool:
        return self.session is not None and self.session.role_name is not None

    @property
    def arn(self) -> str:
        if self.session is not None and self.session.role_name is not None:
            return (
                f"arn:aws:sts::{self.account_id}:assumed-role/"
                f"{self.session.role_name}/{self.session.session_name}"
            )
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name}"

    @property
    def role_arn(self) -> str | None:
        """The role a role session was issued from."""
        return self.session.role_arn if self.session is not None else None
