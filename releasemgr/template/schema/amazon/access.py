"""Credentials, region and endpoints (packer-plugin-amazon ``builder/common/access_config.go``)."""

from __future__ import annotations

from typing import Mapping

from .._model import BOOL, LIST_STRING, MAP_STRING, NUMBER, STRING, Body, Option, Schema, error
from .._types import is_set
from ._common import WHERE

ASSUME_ROLE = Schema(
    (
        Option("role_arn", STRING, doc="Role to assume."),
        Option("duration_seconds", NUMBER, doc="Session length."),
        Option("external_id", STRING, doc="External id the role requires."),
        Option("policy", STRING, doc="Inline session policy (JSON)."),
        Option("policy_arns", LIST_STRING, doc="Managed session policies."),
        Option("session_name", STRING, doc="Session name."),
        Option("tags", MAP_STRING, doc="Session tags."),
        Option("transitive_tag_keys", LIST_STRING, doc="Session tags passed on to chained roles."),
    ),
    doc="Assume an IAM role for the build.",
)
VAULT = Schema(
    (
        Option("name", STRING, doc="Vault role name."),
        Option("role_arn", STRING, doc="Role ARN for the Vault role."),
        Option("ttl", STRING, doc="Lease length."),
        Option("engine_name", STRING, doc="Mount path of the AWS secrets engine."),
    ),
    doc="Get credentials from Vault's AWS secrets engine.",
)
POLLING = Schema(
    (
        Option("delay_seconds", NUMBER, doc="Seconds between polls of the AWS waiters."),
        Option("max_attempts", NUMBER, doc="Polls before giving up."),
    ),
    doc="How long to wait for AWS operations.",
)

ACCESS = (
    Option("access_key", STRING, doc="AWS access key. Prefer the standard credential chain; never write it in the "
                                     "template."),
    Option("secret_key", STRING, doc="AWS secret key. Prefer the standard credential chain; never write it in the "
                                     "template."),
    Option("token", STRING, doc="AWS session token."),
    Option("profile", STRING, doc="Profile of the shared credentials file."),
    # may be created later: not checked
    Option("shared_credentials_file", STRING, doc="Path of the shared credentials file."),
    Option("region", STRING, doc="Region to build in (required unless AWS_REGION or AWS_DEFAULT_REGION is set)."),
    Option("custom_endpoint_ec2", STRING, doc="EC2 endpoint URL (for moto, LocalStack or private endpoints)."),
    Option("decode_authorization_messages", BOOL, default=False, doc="Decode 'encoded authorization' error messages "
                                                                     "(needs sts:DecodeAuthorizationMessage)."),
    Option("insecure_skip_tls_verify", BOOL, default=False, doc="Do not verify TLS certificates of the endpoints."),
    Option("max_retries", NUMBER, doc="Retries of throttled API calls."),
    Option("mfa_code", STRING, doc="MFA token code."),
    Option("skip_metadata_api_check", BOOL, default=False, doc="Do not look for credentials in the instance metadata "
                                                               "service."),
    Option("skip_credential_validation", BOOL, default=False, doc="Do not validate the credentials with STS."),
)


def check_region(body: Body, environ: Mapping[str, str]):
    """Packer: region is required (or AWS_REGION / AWS_DEFAULT_REGION)."""
    a = body.attrs
    region = a.get("region")
    if not is_set(region) and not (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")):
        yield error(
            f'Missing required argument "region" in {WHERE}',
            "Set region, or the AWS_REGION or AWS_DEFAULT_REGION environment variable.",
        )


def check_access_keys(body: Body, environ: Mapping[str, str]):
    """`access_key` and `secret_key` go together."""
    a = body.attrs
    if is_set(a.get("access_key")) != is_set(a.get("secret_key")):
        missing = "secret_key" if is_set(a.get("access_key")) else "access_key"
        yield error(
            f'"access_key" and "secret_key" go together in {WHERE}',
            f"`access_key` and `secret_key` must both be either set or not set; {missing} is missing.",
            ("secret_key" if missing == "access_key" else "access_key",),
        )
