"""Files and paths: file fileexists fileset filebase64 file{md5,sha1,sha256,sha512}
abspath basename dirname pathexpand.

Relative paths are resolved against ``FunctionContext.base_dir`` (the template's folder).
Path results use forward slashes, like Go's ``filepath.ToSlash`` on Unix.
"""

from __future__ import annotations

import base64
import os
import posixpath
import re

from releasemgr.common.hcl_values import type_name
from releasemgr.template.functions._core import FunctionError, register, to_str


def _resolve(ctx, path: str) -> str:
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(ctx.base_dir, path)
    return path


def _read(ctx, path_arg, i: int = 0) -> bytes:
    path = to_str(path_arg, i)
    full = _resolve(ctx, path)
    try:
        with open(full, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise FunctionError(f"no file exists at {path!r} (looked in {full})", i) from None
    except IsADirectoryError:
        raise FunctionError(f"{path!r} is a directory, not a file", i) from None
    except OSError as e:
        raise FunctionError(f"failed to read {path!r}: {e.strerror}", i) from None


@register("file", 1, 1, "file(path)", needs_context=True)
def file(ctx, path):
    data = _read(ctx, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FunctionError(f"contents of {to_str(path, 0)!r} are not valid UTF-8; "
                            "use filebase64 to read binary files", 0) from None


@register("filebase64", 1, 1, "filebase64(path)", needs_context=True)
def filebase64(ctx, path):
    return base64.b64encode(_read(ctx, path)).decode("ascii")


def _file_digest(name: str):
    def impl(ctx, path):
        import hashlib  # noqa: PLC0415

        return hashlib.new(name, _read(ctx, path)).hexdigest()

    return impl


for _name in ("md5", "sha1", "sha256", "sha512"):
    register(f"file{_name}", 1, 1, f"file{_name}(path)", needs_context=True)(_file_digest(_name))


@register("fileexists", 1, 1, "fileexists(path)", needs_context=True)
def fileexists(ctx, path):
    full = _resolve(ctx, to_str(path, 0))
    if os.path.isdir(full):
        raise FunctionError(f"{to_str(path, 0)!r} is a directory, not a file", 0)
    return os.path.isfile(full)


def glob_to_regex(pattern: str) -> str:
    """doublestar semantics: ``*`` and ``?`` stay within a path segment, a ``**`` segment
    matches zero or more segments, ``[...]``/``[!...]`` classes, ``{a,b}`` alternatives."""
    out: list[str] = []
    i, n = 0, len(pattern)
    depth = 0
    while i < n:
        c = pattern[i]
        if c == "*":
            at_seg_start = i == 0 or pattern[i - 1] == "/"
            if pattern.startswith("**", i) and at_seg_start and (i + 2 == n or pattern[i + 2] == "/"):
                if i + 2 == n:
                    out.append(".*")
                    i += 2
                else:
                    out.append("(?:[^/]*/)*")  # zero or more whole segments
                    i += 3
                continue
            while i < n and pattern[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                raise FunctionError(f"argument 2: invalid pattern {pattern!r}: missing ]", 1)
            body = pattern[i + 1:end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise FunctionError(f"argument 2: invalid pattern {pattern!r}: missing }}", 1)
    return "".join(out)


_GLOB_META = re.compile(r"[*?\[{\\]")


@register("fileset", 2, 2, "fileset(path, pattern)", needs_context=True)
def fileset(ctx, path, pattern):
    """Sorted paths, relative to ``path``, of the files (not folders) matching pattern.

    As in Terraform, the pattern is joined to the path and cleaned first, so "./x/*",
    "/x/*" and "../*.txt" work; symbolic links are followed, each real folder once.
    """
    path_s, pattern_s = to_str(path, 0), to_str(pattern, 1)
    root = os.path.normpath(os.path.abspath(_resolve(ctx, path_s)))
    joined = _go_clean(root.replace(os.sep, "/") + "/" + pattern_s)
    segments = joined.split("/")
    static = 0
    while static < len(segments) - 1 and not _GLOB_META.search(segments[static]):
        static += 1
    start = "/".join(segments[:static]) or "/"
    rx = re.compile(glob_to_regex(joined) + r"\Z")
    if not _GLOB_META.search(joined):  # a plain path: just that file
        return [posixpath.relpath(joined, root)] if os.path.isfile(joined) else []
    found = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(start, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        base = dirpath.replace(os.sep, "/").rstrip("/")
        for name in filenames:
            full = f"{base}/{name}"
            if rx.match(full) and os.path.isfile(full):
                found.append(posixpath.relpath(full, root.replace(os.sep, "/")))
    return sorted(found)


def _go_clean(p: str) -> str:
    """Go's path.Clean (posixpath keeps a leading "//", Go does not)."""
    if not p:
        return "."
    p = posixpath.normpath(p)
    return "/" + p.lstrip("/") if p.startswith("//") else p


@register("abspath", 1, 1, "abspath(path)", needs_context=True)
def abspath(ctx, path):
    p = to_str(path, 0)
    if not os.path.isabs(p):
        p = os.path.join(os.path.abspath(ctx.base_dir), p)
    return _go_clean(p.replace(os.sep, "/"))


@register("basename", 1, 1, "basename(path)")
def basename(path):
    p = to_str(path, 0)
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p.rsplit("/", 1)[-1]


@register("dirname", 1, 1, "dirname(path)")
def dirname(path):
    p = to_str(path, 0)
    head = p[: p.rfind("/") + 1]
    return _go_clean(head)


@register("pathexpand", 1, 1, "pathexpand(path)", needs_context=True)
def pathexpand(ctx, path):
    p = to_str(path, 0)
    if p == "~" or p.startswith("~/"):
        home = ctx.environ.get("HOME") or os.path.expanduser("~")
        return home + p[1:]
    return p


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


@register("templatefile", 2, 2, "templatefile(path, vars)", needs_context=True)
def templatefile(ctx, path, variables):
    """Reads the file (relative to the template's folder) and renders it with ``vars``
    through ``ctx.render_template``, which the expression evaluator provides."""
    if not isinstance(variables, dict):
        raise FunctionError(f"argument 2 must be a map or object, got {type_name(variables)}", 1)
    for key in variables:
        if not _IDENT.match(key):
            raise FunctionError(f"argument 2: invalid template variable name {key!r}: must "
                                "start with a letter and contain only letters, digits, "
                                "underscores and dashes", 1)
    text = file(ctx, path)
    if ctx.render_template is None:
        raise FunctionError("templatefile is not available in this context (no template "
                            "renderer was provided)")
    return ctx.render_template(text, variables, _resolve(ctx, to_str(path, 0)))
