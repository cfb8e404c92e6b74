"""The HCL/Packer function library for template expressions.

    from releasemgr.template.functions import call_function, FunctionContext
    call_function("upper", ["web"], FunctionContext(base_dir="templates"))  # "WEB"

Semantics follow go-cty's ``function/stdlib`` and Packer's ``hcl2template/function``;
differences are listed in docs/functions.md. ``try`` and ``can`` are not here: they need
lazy evaluation and belong to the evaluator.
"""

from releasemgr.template.functions._core import FUNCTIONS, Function, FunctionContext, FunctionError, call_function
from releasemgr.template.functions import (  # noqa: F401  (registration side effects)
    collections,
    conversion,
    datetime,
    encoding,
    filesystem,
    formatting,
    general,
    network,
    numeric,
    regex,
    strings,
)
from releasemgr.template.functions.encoding import json_encode

__all__ = [
    "FUNCTIONS",
    "Function",
    "FunctionContext",
    "FunctionError",
    "call_function",
    "json_encode",
]
