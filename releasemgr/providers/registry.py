"""Builders by source type, imported lazily (boto3 and paramiko only when needed)."""

from __future__ import annotations

import importlib

BUILDERS = {
    "local": "releasemgr.providers.local.builder",
    "null": "releasemgr.providers.null_builder",
    "amazon-ebs": "releasemgr.providers.aws.builder",
}
PROVIDER_OF = {"local": "local", "null": "null", "amazon-ebs": "aws"}


def builder_steps(source_type: str):
    mod = BUILDERS.get(source_type)
    if mod is None:
        return None
    try:
        return importlib.import_module(mod).steps
    except ModuleNotFoundError as exc:
        if exc.name == mod:
            return None
        raise
