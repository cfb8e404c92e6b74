"""Packer HCL2 templates: loading, evaluation, diagnostics, validation, fmt, inspect.

Nothing in this package imports boto3, paramiko or the ORM: `release fmt` and
`release validate` must start fast.
"""
