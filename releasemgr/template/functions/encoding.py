"""Encodings, hashes and identifiers: jsonencode jsondecode yamldecode base64encode
base64decode base64gzip urlencode md5 sha1 sha256 sha512 base64sha256 base64sha512
uuidv4 uuidv5 csvdecode."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import unicodedata

# hashlib, json, csv, gzip, io, urllib.parse and uuid are imported where they are used:
# importing this package is on the start-up path of `release validate`.

from releasemgr.common.hcl_values import UNKNOWN, is_number, number_to_string, parse_number
from releasemgr.template.functions._core import FunctionError, register, to_raw_str, to_str

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
            "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json_string(s: str) -> str:
    # Go's encoding/json: HTML-safe escapes, \u00XX for other control characters,
    # U+FFFD for what is not valid UTF-8 (lone surrogates here). Text is NFC, as in cty.
    if not s.isascii():
        s = unicodedata.normalize("NFC", s)
    out = ['"']
    for c in s:
        e = _ESCAPES.get(c)
        if e is not None:
            out.append(e)
        elif c < " ":
            out.append(f"\\u{ord(c):04x}")
        elif "\ud800" <= c <= "\udfff":
            out.append("\ufffd")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def json_encode(v) -> str:
    """Compact JSON as cty writes it: object keys sorted, numbers without exponent."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if is_number(v):
        text = number_to_string(v)
        if text in ("NaN", "+Inf", "-Inf"):
            raise FunctionError(f"cannot encode the number {text} as JSON", 0)
        return text
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, list):
        return "[" + ",".join(json_encode(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(_json_string(str(k)) + ":" + json_encode(v[k])
                              for k in sorted(v, key=str)) + "}"
    if v is UNKNOWN:
        raise FunctionError("value is not known yet", 0)
    raise FunctionError(f"cannot encode a {type(v).__name__} as JSON", 0)


@register("jsonencode", 1, 1, "jsonencode(value)")
def jsonencode(v):
    return json_encode(v)


def _reject_constant(name):
    raise ValueError(f"invalid JSON literal {name}")


def _json_number(text):
    n = parse_number(text)
    return n if n is not None else float(text)


@register("jsondecode", 1, 1, "jsondecode(string)")
def jsondecode(s):
    import json  # noqa: PLC0415

    text = to_raw_str(s, 0)
    try:
        return json.loads(text, parse_float=_json_number, parse_int=_json_number,
                          parse_constant=_reject_constant)
    except ValueError as e:
        raise FunctionError(f"argument 1 is not valid JSON: {e}", 0) from None


@register("yamldecode", 1, 1, "yamldecode(string)")
def yamldecode(s):
    text = to_raw_str(s, 0)
    try:
        import yaml  # noqa: PLC0415  (PyYAML; only needed by this function)
    except ImportError:
        raise FunctionError("needs the PyYAML package (pip install pyyaml)", 0) from None
    try:
        docs = list(yaml.safe_load_all(text))
    except RecursionError:
        raise FunctionError("argument 1: YAML value is nested too deeply", 0) from None
    except yaml.YAMLError as e:
        raise FunctionError(f"argument 1 is not valid YAML: {e}", 0) from None
    except Exception as e:  # noqa: BLE001 - ValueError/TypeError from PyYAML's constructors
        raise FunctionError(f"argument 1 cannot be read as YAML: {e}", 0) from None
    if len(docs) > 1:
        raise FunctionError("argument 1 contains more than one YAML document", 0)
    return _plain(docs[0] if docs else None)


def _plain(v):
    if isinstance(v, dict):
        return {str(k) if not isinstance(k, bool) else str(k).lower(): _plain(x)
                for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, _dt.datetime):  # YAML timestamps become RFC 3339 strings, as in cty-yaml
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)
        text = v.isoformat().replace("+00:00", "Z")
        return text
    if isinstance(v, _dt.date):
        return v.isoformat() + "T00:00:00Z"
    return str(v)


@register("base64encode", 1, 1, "base64encode(string)")
def base64encode(s):
    return base64.b64encode(to_str(s, 0).encode("utf-8", "surrogatepass")).decode("ascii")


@register("base64decode", 1, 1, "base64decode(string)")
def base64decode(s):
    text = to_str(s, 0)
    try:
        raw = base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise FunctionError(f"argument 1: failed to decode base64 data {text!r}", 0) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FunctionError("the result of decoding the provided string is not valid UTF-8",
                            0) from None


@register("base64gzip", 1, 1, "base64gzip(string)")
def base64gzip(s):
    import gzip  # noqa: PLC0415

    data = gzip.compress(to_str(s, 0).encode("utf-8"), mtime=0)
    return base64.b64encode(data).decode("ascii")


@register("urlencode", 1, 1, "urlencode(string)")
def urlencode(s):
    import urllib.parse  # noqa: PLC0415

    return urllib.parse.quote_plus(to_str(s, 0), safe="-_.~")


def _digest(name: str):
    def hexdigest(s):
        import hashlib  # noqa: PLC0415

        return hashlib.new(name, to_str(s, 0).encode("utf-8")).hexdigest()

    return hexdigest


def _b64digest(name: str):
    def b64(s):
        import hashlib  # noqa: PLC0415

        digest = hashlib.new(name, to_str(s, 0).encode("utf-8")).digest()
        return base64.b64encode(digest).decode("ascii")

    return b64


for _name in ("md5", "sha1", "sha256", "sha512"):
    register(_name, 1, 1, f"{_name}(string)")(_digest(_name))
for _name in ("sha256", "sha512"):
    register(f"base64{_name}", 1, 1, f"base64{_name}(string)")(_b64digest(_name))


@register("uuidv4", 0, 0, "uuidv4()")
def uuidv4():
    import uuid  # noqa: PLC0415

    return str(uuid.uuid4())


register("uuid", 0, 0, "uuid()")(uuidv4)

_NAMESPACES = ("dns", "url", "oid", "x500")


@register("uuidv5", 2, 2, "uuidv5(namespace, name)")
def uuidv5(namespace, name):
    import uuid  # noqa: PLC0415

    ns_text = to_str(namespace, 0)
    ns = getattr(uuid, f"NAMESPACE_{ns_text.upper()}") if ns_text in _NAMESPACES else None
    if ns is None:
        try:
            ns = uuid.UUID(ns_text)
        except ValueError:
            raise FunctionError(
                f"argument 1: uuidv5() doesn't support namespace prefix {ns_text!r}; use "
                "dns, url, oid, x500 or a UUID", 0) from None
    return str(uuid.uuid5(ns, to_str(name, 1)))


@register("csvdecode", 1, 1, "csvdecode(string)")
def csvdecode(s):
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    text = to_str(s, 0)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise FunctionError(f"argument 1 is not valid CSV: {e}", 0) from None
    if not rows:
        raise FunctionError("argument 1: missing header line", 0)
    header, body = rows[0], rows[1:]
    out = []
    for k, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise FunctionError(
                f"argument 1: line {k}: wrong number of fields (want {len(header)}, "
                f"got {len(row)})", 0)
        out.append(dict(zip(header, row)))
    return out


# --- yamlencode: the block style of go-yaml v2 as used by cty-yaml -----------------------

def _yaml_printable(c: str) -> bool:
    """YAML's printable set (minus BOM, NEL and line/paragraph separators)."""
    return (" " <= c <= "~" or "\xa0" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd"
            or c >= "\U00010000") and c not in "\ufeff\u2028\u2029"


def _yaml_quote(s: str) -> str:
    if not s.isascii():
        s = unicodedata.normalize("NFC", s)
    out = ['"']
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\t":
            out.append("\\t")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif not _yaml_printable(c):
            code = ord(c)
            out.append(f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _yaml_literal(s: str) -> bool:
    """go-yaml writes strings holding a newline as a literal block (|-, |, |+)."""
    return "\n" in s and not s.startswith((" ", "\n")) and all(
        c == "\n" or _yaml_printable(c) for c in s)


def _yaml_scalar(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if is_number(v):
        return number_to_string(v)
    if isinstance(v, str):
        return _yaml_quote(v)
    if isinstance(v, list):
        return "[]"
    if isinstance(v, dict):
        return "{}"
    raise FunctionError(f"cannot encode a {type(v).__name__} as YAML", 0)


def _literal_lines(s: str, ind: int) -> tuple[str, list[str]]:
    s = unicodedata.normalize("NFC", s)
    body = s.rstrip("\n")
    trailing = len(s) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    lines = [(" " * ind + line) if line else "" for line in body.split("\n")]
    lines.extend([""] * (trailing - 1 if trailing > 1 else 0))
    return "|" + chomp, lines


def _yaml_block(v, ind: int) -> list[str]:
    pad = " " * ind
    out: list[str] = []
    if isinstance(v, dict):
        for k in sorted(v):
            key, item = _yaml_quote(str(k)), v[k]
            if isinstance(item, dict) and item:
                out.append(f"{pad}{key}:")
                out.extend(_yaml_block(item, ind + 2))
            elif isinstance(item, list) and item:
                out.append(f"{pad}{key}:")
                out.extend(_yaml_block(item, ind))
            elif isinstance(item, str) and _yaml_literal(item):
                head, lines = _literal_lines(item, ind + 2)
                out.append(f"{pad}{key}: {head}")
                out.extend(lines)
            else:
                out.append(f"{pad}{key}: {_yaml_scalar(item)}")
        return out
    for item in v:
        if isinstance(item, (dict, list)) and item:
            sub = _yaml_block(item, ind + 2)
            sub[0] = pad + "- " + sub[0][ind + 2:]
            out.extend(sub)
        elif isinstance(item, str) and _yaml_literal(item):
            head, lines = _literal_lines(item, ind + 2)
            out.append(f"{pad}- {head}")
            out.extend(lines)
        else:
            out.append(f"{pad}- {_yaml_scalar(item)}")
    return out


@register("yamlencode", 1, 1, "yamlencode(value)")
def yamlencode(v):
    if isinstance(v, (dict, list)) and v:
        return "\n".join(_yaml_block(v, 0)) + "\n"
    if isinstance(v, str) and _yaml_literal(v):
        head, lines = _literal_lines(v, 2)
        return head + "\n" + "\n".join(lines) + "\n"
    text = _yaml_scalar(v) + "\n"
    if v is None or isinstance(v, (bool, int, float)):
        text += "...\n"  # go-yaml ends a document holding only a plain scalar
    return text
