"""Amazon SNS: topics, subscriptions (HTTP/S, email, email-json, Lambda) and publishing, per
account and Region; every operation, named after the API, grouped by what it works on."""

from __future__ import annotations

from strongroom.services.sns.publishing import Publishing
from strongroom.services.sns.subscriptions import Subscriptions
from strongroom.services.sns.topics import Topics


class SNS(Topics, Subscriptions, Publishing):
    pass
