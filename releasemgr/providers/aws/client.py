"""boto3 sessions, clients, waits and tags shared by the AWS steps.

Credentials come from the standard chain (profile, environment, instance role); a key written
in a template is used but never stored or printed. Endpoints: `custom_endpoint_ec2`, or
boto3's own `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_EC2` (how the tests point at moto).
Throttling: botocore's adaptive retry mode.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from releasemgr.pipeline.runner import Cancelled

TAG_BUILD = "release:build-id"
TAG_IMAGE = "release:image"
TAG_VERSION = "release:version"
TAG_MANAGED = "release:managed"
TAG_ENV = "release:env"


class AwsError(Exception):
    """One clear message about an AWS call that failed."""


def session(cfg: dict | None = None, region: str | None = None):
    import boto3

    cfg = cfg or {}
    kw: dict[str, Any] = {}
    if cfg.get("access_key") and cfg.get("secret_key"):
        kw.update(aws_access_key_id=cfg["access_key"], aws_secret_access_key=cfg["secret_key"])
        if cfg.get("token"):
            kw["aws_session_token"] = cfg["token"]
    elif cfg.get("profile"):
        kw["profile_name"] = cfg["profile"]
    region = region or cfg.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        kw["region_name"] = region
    try:
        return boto3.Session(**kw)
    except Exception as exc:  # botocore.exceptions.ProfileNotFound etc.
        raise AwsError(f"AWS credentials: {exc}") from None


def ec2(cfg: dict | None = None, region: str | None = None, sess=None):
    from botocore.config import Config

    sess = sess or session(cfg, region)
    endpoint = (cfg or {}).get("custom_endpoint_ec2") or None
    conf = Config(retries={"mode": "adaptive", "max_attempts": 10}, user_agent_extra="releasemgr")
    return sess.client("ec2", region_name=region or sess.region_name, endpoint_url=endpoint, config=conf)


def autoscaling(cfg: dict | None = None, region: str | None = None, sess=None):
    from botocore.config import Config

    sess = sess or session(cfg, region)
    conf = Config(retries={"mode": "adaptive", "max_attempts": 10}, user_agent_extra="releasemgr")
    return sess.client("autoscaling", region_name=region or sess.region_name, config=conf)


def call(fn: Callable, what: str, **kw):
    """Call boto3 and turn its errors into one clear AwsError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kw)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise AwsError(f"{what}: {err.get('Code', 'error')}: {err.get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise AwsError(f"{what}: {exc}") from None


def error_code(exc) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def wait_settings() -> tuple[float, int]:
    """Packer's overrides: AWS_POLL_DELAY_SECONDS, AWS_MAX_ATTEMPTS, AWS_TIMEOUT_SECONDS."""
    delay = float(os.environ.get("AWS_POLL_DELAY_SECONDS", "2"))
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS", "0") or 0)
    timeout = float(os.environ.get("AWS_TIMEOUT_SECONDS", "0") or 0)
    if not attempts:
        attempts = int(timeout / delay) if timeout and delay else 400
    return delay, attempts


def wait_for(check: Callable[[], Any], what: str, *, cancel=None, say: Callable[[str], None] | None = None,
             delay: float | None = None, attempts: int | None = None):
    """Poll `check()` until it returns a truthy value; backs off gently; honours cancel."""
    d, n = wait_settings()
    delay = d if delay is None else delay
    attempts = n if attempts is None else attempts
    started = time.monotonic()
    for i in range(attempts):
        result = check()
        if result:
            return result
        if say and i and i % 10 == 0:
            say(f"Still waiting for {what} ({time.monotonic() - started:.0f}s)...")
        pause = min(delay * (1.5 ** min(i, 4)), max(delay, 15.0))
        if cancel is not None:
            if cancel.wait(pause):
                raise Cancelled()
        else:
            time.sleep(pause)
    raise AwsError(f"timed out waiting for {what} after {time.monotonic() - started:.0f}s "
                   "(AWS_MAX_ATTEMPTS / AWS_POLL_DELAY_SECONDS / AWS_TIMEOUT_SECONDS change the wait)")


def tag_list(tags: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": str(k), "Value": "" if v is None else str(v)} for k, v in tags.items()]


def release_tags(build_id: str, image: str, version: str | None = None) -> dict[str, str]:
    tags = {TAG_MANAGED: "true", TAG_BUILD: build_id, TAG_IMAGE: image}
    if version:
        tags[TAG_VERSION] = version
    return tags
