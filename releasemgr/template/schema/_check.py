"""The generic walk: a body against a schema, collecting every finding before returning."""

from __future__ import annotations

from typing import Mapping

from ._model import Body, Finding, Schema, error
from ._types import choice_problems, is_set, suggest, type_problems


def check_body(schema: Schema, body: Body, where: str, environ: Mapping[str, str], prefix: tuple = ()) -> list[Finding]:
    """Every problem of `body` against `schema`. `where` names the block in messages
    ("source amazon-ebs", "source_ami_filter block in source amazon-ebs")."""
    findings: list[Finding] = []
    attr_names = [o.name for o in schema.options]
    block_names = [b.name for b in schema.blocks]

    for name, value in body.attrs.items():
        opt = schema.option(name)
        if opt is None:
            findings.append(_unsupported_argument(name, where, attr_names, block_names, prefix))
            continue
        for sub, detail in type_problems(opt.type, value, name):
            findings.append(error(f'Inappropriate value for "{name}" in {where}', detail, prefix + (name,) + sub))
        if opt.choices and not type_problems(opt.type, value, name):
            for sub, detail in choice_problems(opt.choices, value):
                findings.append(error(f'Invalid value for "{name}" in {where}', detail, prefix + (name,) + sub))

    for name, bodies in body.blocks.items():
        spec = schema.block(name)
        if spec is None:
            findings.append(_unsupported_block(name, where, attr_names, block_names, prefix))
            continue
        if not spec.repeated and len(bodies) > 1:
            findings.append(
                error(
                    f'Duplicate "{name}" block in {where}',
                    f'Only one "{name}" block is allowed; this is number {len(bodies)}.',
                    prefix + (name, len(bodies) - 1),
                )
            )
        for i, nested in enumerate(bodies):
            findings.extend(check_body(spec.schema, nested, f"{name} block in {where}", environ, prefix + (name, i)))

    for opt in schema.options:
        if opt.required and not is_set(body.attrs.get(opt.name)):
            findings.append(
                error(
                    f'Missing required argument "{opt.name}" in {where}',
                    f'The argument "{opt.name}" is required, but no definition was found.',
                    prefix,
                )
            )

    for group in schema.groups:
        findings.extend(_check_group(group, body, where, prefix))

    for check in schema.checks:
        for f in check(body, environ):
            findings.append(Finding(f.severity, f.summary, f.detail, prefix + tuple(f.path)))
    return findings


def _given(body: Body, name: str) -> bool:
    if name in body.blocks:
        return bool(body.blocks[name])
    return is_set(body.attrs.get(name))


def _check_group(group, body: Body, where: str, prefix: tuple) -> list[Finding]:
    given = [n for n in group.names if _given(body, n)]
    listed = ", ".join(f'"{n}"' for n in group.names)
    if group.rule in ("exactly_one", "at_least_one") and not given:
        how = "Exactly one" if group.rule == "exactly_one" else "At least one"
        return [error(f"Missing one of {listed} in {where}", f"{how} of {listed} must be set.", prefix)]
    if group.rule in ("exactly_one", "at_most_one") and len(given) > 1:
        both = " and ".join(f'"{n}"' for n in given)
        return [
            error(
                f"Conflicting arguments {both} in {where}",
                f"Only one of {listed} can be set.",
                prefix + (given[1],),
            )
        ]
    return []


def _unsupported_argument(name, where, attr_names, block_names, prefix) -> Finding:
    if name in block_names:
        detail = (
            f'An argument named "{name}" is not expected here. '
            f'Did you mean to define a block of type "{name}"? Write it without the equals sign.'
        )
        return error(f'Unsupported argument "{name}" in {where}', detail, prefix + (name,))
    close = suggest(name, attr_names) or suggest(name, block_names)
    detail = f'Did you mean "{close}"?' if close else f'An argument named "{name}" is not expected here.'
    return error(f'Unsupported argument "{name}" in {where}', detail, prefix + (name,))


def _unsupported_block(name, where, attr_names, block_names, prefix) -> Finding:
    if name in attr_names:
        detail = (
            f'Blocks of type "{name}" are not expected here. Did you mean to define argument "{name}"? '
            "If so, use the equals sign to assign it a value."
        )
        return error(f'Unsupported block type "{name}" in {where}', detail, prefix + (name, 0))
    close = suggest(name, block_names) or suggest(name, attr_names)
    detail = f'Did you mean "{close}"?' if close else f'Blocks of type "{name}" are not expected here.'
    return error(f'Unsupported block type "{name}" in {where}', detail, prefix + (name, 0))
