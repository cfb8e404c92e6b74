"""`release fmt`: rewrite templates in `packer fmt`'s canonical layout."""

from __future__ import annotations

import os
import re

import click

from releasemgr.cli.context import app_ctx, command
from releasemgr.errors import NotFound, OperationFailed, TemplateError, UsageError
from releasemgr.template.fmt import (
    FileResult, collect_files, format_bytes, format_file, is_hcl2_file, unified_diff, write_atomically,
)

CHECK_FAILED = 3  # `packer fmt -check`'s exit status when a file is not formatted

# Packer's flags are Go flags: one or two dashes, booleans as -name or -name=value.
_GO_FLAG = re.compile(r"--?(check|diff|write|recursive)(?:=(.*))?")
_GO_BOOLS = {**dict.fromkeys(("1", "t", "T", "true", "TRUE", "True"), True),
             **dict.fromkeys(("0", "f", "F", "false", "FALSE", "False"), False)}


class _PackerSpellings(click.Command):
    """Also accept `-check`, `-diff`, `-recursive`, `-write=false` (and `=true`)."""

    def parse_args(self, ctx, args):
        rewritten = []
        for i, arg in enumerate(args):
            if arg == "--":
                rewritten += args[i:]
                break
            m = _GO_FLAG.fullmatch(arg)
            if m is None:
                rewritten.append(arg)
                continue
            name, value = m.groups()
            on = True if value is None else _GO_BOOLS.get(value)
            if on is None:
                raise click.UsageError(f"invalid boolean value {value!r} for -{name}", ctx)
            if on:
                rewritten.append(f"--{name}")
            elif name == "write":
                rewritten.append("--no-write")
            # -check=false, -diff=false, -recursive=false: the defaults
        return super().parse_args(ctx, rewritten)


@command("fmt", cls=_PackerSpellings, short_help="Format templates exactly as `packer fmt` does.")
@click.option("--check", is_flag=True, help="Change nothing; exit 3 if some file is not formatted.")
@click.option("--diff", is_flag=True, help="Show the changes as a unified diff.")
@click.option("--write/--no-write", default=True, show_default=True,
              help="Write the result back to the files (never with --check).")
@click.option("--recursive", is_flag=True, help="Also format the templates in sub-directories.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
def fmt(check: bool, diff: bool, write: bool, recursive: bool, paths: tuple[str, ...]):
    """Format templates exactly as `packer fmt` does (byte for byte).

    Each PATH is a `*.pkr.hcl` or `*.pkrvars.hcl` file, or a directory: the templates
    directly inside it, or all those below it with --recursive. The layout is Packer's:
    two-space indentation, `=` aligned over consecutive attributes, trailing comments
    aligned, one blank between tokens; comments, blank lines and heredoc bodies are
    kept. PATH `-` reads standard input and writes the result to standard output.

    Prints the name of each file that changes (with --json: {"files": [{"path",
    "changed"}], "changed": N}). If any file does not tokenize, every problem is shown
    with file:line:column and nothing at all is written. Files are replaced in one step,
    keeping their mode. Packer's spellings -check, -diff, -write=false and -recursive
    work too.

    Exit codes: 0 done, 2 a file does not tokenize, 3 with --check some file is not
    formatted, 4 a PATH does not exist.

    \b
    Example:
      release fmt templates/
      release fmt --check --diff templates/web.pkr.hcl
      release fmt -recursive -write=false .
      release fmt - < web.pkr.hcl > web.formatted.pkr.hcl
    """
    ui = app_ctx().ui
    if check:
        write = False
    results = [_format_input(path) for path in _inputs(paths, recursive)]

    failed = [r for r in results if r.diagnostics]
    if failed:
        raise TemplateError(
            f"{len(failed)} of {len(results)} file(s) could not be formatted; nothing was written",
            [d for r in failed for d in r.diagnostics],
            hint="fix the problems shown above, then run release fmt again",
        )

    report = []
    for result in results:
        entry = {"path": result.path, "changed": result.changed}
        report.append(entry)
        patch = unified_diff(result.source, result.formatted, result.path) if diff and result.changed else None
        if patch is not None and ui.json:
            entry["diff"] = patch
        if result.path == "-":
            _stdin_output(ui, result, diff, patch, write)
            continue
        if not result.changed:
            continue
        if not ui.json:
            ui.out(result.path)
            if patch is not None:
                ui.out(patch.rstrip("\n"))
        if write:
            try:
                write_atomically(result.path, result.formatted)
            except OSError as exc:
                raise OperationFailed(f"cannot write {result.path}: {exc.strerror or exc}") from exc

    changed = sum(entry["changed"] for entry in report)
    ui.emit({"files": report, "changed": changed})
    if check and changed:
        raise click.exceptions.Exit(CHECK_FAILED)


def _inputs(paths: tuple[str, ...], recursive: bool) -> list[str]:
    """The files the PATH arguments stand for, "-" for standard input."""
    if paths.count("-") > 1:
        raise UsageError("standard input (-) can be given only once")
    files = []
    for path in paths:
        if path == "-":
            files.append(path)
        elif os.path.isdir(path):
            files += collect_files(path, recursive)
        elif not os.path.exists(path):
            raise NotFound(f"{path}: no such file or directory")
        elif not is_hcl2_file(path):
            raise UsageError(f"{path} is not a Packer HCL2 file",
                             hint="release fmt formats *.pkr.hcl and *.pkrvars.hcl files")
        else:
            files.append(path)
    return files


def _format_input(path: str) -> FileResult:
    if path == "-":
        return format_bytes(click.get_binary_stream("stdin").read(), "-")
    return format_file(path)


def _stdin_output(ui, result: FileResult, diff: bool, patch: str | None, write: bool) -> None:
    """Standard input's result goes to standard output: with --diff the diff, otherwise
    the formatted text (not with --check or --no-write; never with --json)."""
    if ui.json:
        return
    if diff:
        if patch is not None:
            ui.out(patch.rstrip("\n"))
        return
    if write:
        ui.stdout.flush()
        stream = getattr(ui.stdout, "buffer", None)
        if stream is not None:  # bytes, so that CRLF and the encoding are kept exactly
            stream.write(result.formatted.encode("utf-8"))
            stream.flush()
        else:
            ui.stdout.write(result.formatted)
            ui.stdout.flush()
