"""The HCL/Packer function library: every function with typical values, edge cases and
error messages, plus hypothesis properties (round trips, idempotence)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import unicodedata
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from releasemgr.template.functions import (
    FUNCTIONS,
    Function,
    FunctionContext,
    FunctionError,
    call_function,
)
from releasemgr.common.hcl_values import UNKNOWN, is_unknown


@pytest.fixture
def ctx(tmp_path):
    return FunctionContext(base_dir=str(tmp_path), environ={"HOME": "/home/u", "GREETING": "hi"})


def call(name, *args, ctx=None):
    return call_function(name, list(args), ctx or FunctionContext(base_dir="."))


def error(name, *args, ctx=None) -> FunctionError:
    with pytest.raises(FunctionError) as exc:
        call(name, *args, ctx=ctx)
    return exc.value


# --- the registry and the call protocol ---------------------------------------------

REQUIRED = ("timestamp formatdate uuidv4 lower upper title trimspace trim replace regex "
            "regex_replace split join concat merge lookup element length coalesce contains keys "
            "values format abspath basename dirname file fileset jsonencode jsondecode "
            "base64encode base64decode sha256 md5 min max tostring tonumber tolist toset").split()
EXTRA = ("trimprefix trimsuffix chomp indent substr strrev range flatten distinct reverse sort "
         "slice zipmap formatlist startswith endswith abs ceil floor log pow signum parseint "
         "sha1 sha512 base64sha256 urlencode uuidv5 compact index coalescelist env").split()


@pytest.mark.parametrize("name", REQUIRED + EXTRA)
def test_function_is_registered(name):
    fn = FUNCTIONS[name]
    assert isinstance(fn, Function) and fn.name == name and callable(fn.impl)
    assert fn.signature.startswith(name + "(")


def test_try_and_can_are_left_to_the_evaluator():
    assert "try" not in FUNCTIONS and "can" not in FUNCTIONS


def test_unknown_function_suggests_a_name():
    e = error("lowr", "x")
    assert e.message == "call to unknown function 'lowr'; did you mean 'lower'?"
    assert e.arg_index is None
    assert "did you mean" not in error("zzzzzz").message


def test_wrong_number_of_arguments():
    assert error("upper").message == "upper: expects 1 argument, got 0 (usage: upper(string))"
    assert error("upper").reason == "expects 1 argument, got 0 (usage: upper(string))"
    assert error("lookup", {}).message.startswith("lookup: expects 2 to 3 arguments, got 1")
    assert error("join").message.startswith("join: expects at least 2 arguments, got 0")
    assert error("timestamp", 1).message.startswith("timestamp: expects 0 arguments, got 1")


def test_error_names_function_and_argument():
    e = error("lower", [1])
    assert e.message == "lower: argument 1 must be a string, got list"
    assert e.reason == "argument 1 must be a string, got list" and str(e) == e.message
    assert e.arg_index == 0
    e = error("replace", "a", "b", {"x": 1})
    assert e.message == "replace: argument 3 must be a string, got object"
    assert e.arg_index == 2
    assert error("upper", None).message == "upper: argument 1 must not be null"


def test_primitive_arguments_convert_like_cty():
    assert call("upper", 5) == "5"
    assert call("upper", True) == "TRUE"
    assert call("lower", 1.5) == "1.5"
    assert call("abs", "-3") == 3
    assert call("abs", "1e2") == 100
    assert "cannot convert 'x' to number" in error("abs", "x").message
    assert error("abs", True).message == "abs: argument 1 must be a number, got bool"


def test_unknown_arguments_give_unknown():
    assert call("upper", UNKNOWN) is UNKNOWN
    assert call("join", ",", ["a", UNKNOWN]) is UNKNOWN
    assert call("format", "%s", UNKNOWN) is UNKNOWN
    assert call("jsonencode", {"a": [UNKNOWN]}) is UNKNOWN


def test_unknown_elements_keep_some_results_known():
    assert call("length", [UNKNOWN, 1]) == 2
    assert call("length", UNKNOWN) is UNKNOWN
    assert call("keys", {"a": UNKNOWN, "b": 1}) == ["a", "b"]
    assert call("concat", [1], [UNKNOWN]) == [1, UNKNOWN]
    assert call("concat", [1], UNKNOWN) is UNKNOWN
    assert call("merge", {"a": UNKNOWN}, {"b": 1}) == {"a": UNKNOWN, "b": 1}
    assert call("element", [UNKNOWN, "x"], 1) == "x"
    assert call("element", ["x"], UNKNOWN) is UNKNOWN
    assert call("lookup", {"a": 1, "b": UNKNOWN}, "a") == 1
    assert call("lookup", {"a": 1}, "z", UNKNOWN) is UNKNOWN
    assert call("flatten", [[1], [UNKNOWN]]) is UNKNOWN
    assert call("formatlist", "%s", ["a", UNKNOWN]) == ["a", UNKNOWN]


def test_results_are_nfc_like_cty_strings():
    assert call("strrev", "e\u0301x") == "x\u00e9"
    assert call("jsonencode", {"k\u0301": "e\u0301"}) == '{"\u1e31":"\u00e9"}'


def test_encoders_never_merge_an_escape_with_a_combining_mark():
    # NFC over the whole text would turn "\t" + U+0308 into "\ẗ" (invalid JSON)
    text = call("jsonencode", ["\t\u0308", "\n\u0303"])
    assert json.loads(text) == ["\t\u0308", "\n\u0303"]
    assert call("jsondecode", text) == ["\t\u0308", "\n\u0303"]
    assert call("yamldecode", call("yamlencode", ["\t\u0308"])) == ["\t\u0308"]


# --- strings -----------------------------------------------------------------------

@pytest.mark.parametrize("name,args,expected", [
    ("lower", ["HeLLo ÀÉ"], "hello àé"),
    ("lower", ["İ"], "i"),  # Go's simple case mapping
    ("upper", ["straße ǆ"], "STRAßE Ǆ"),  # ß has no single-letter upper case
    ("upper", ["ᾳ ǰ ﬁ"], "ᾼ ǰ ﬁ"),  # Go's simple mapping
    ("lower", ["ΟΔΟΣ"], "οδοσ"),  # no final-sigma rule in Go
    ("title", ["hello wORLD-foo_bar x.y"], "Hello WORLD-Foo_bar X.Y"),
    ("title", ["élan vital"], "Élan Vital"),
    ("title", [""], ""),
    ("trimspace", [" \t\n x y \r\n\u00a0"], "x y"),
    ("trimspace", ["\u2003x\u2003"], "x"),
    ("trim", ["?!hello?!", "!?"], "hello"),
    ("trim", ["abc", ""], "abc"),
    ("trimprefix", ["helloworld", "hello"], "world"),
    ("trimprefix", ["hellohello", "hello"], "hello"),
    ("trimprefix", ["world", "hello"], "world"),
    ("trimsuffix", ["helloworld", "world"], "hello"),
    ("trimsuffix", ["x", ""], "x"),
    ("chomp", ["hello\r\n\n"], "hello"),
    ("chomp", ["a\nb\n"], "a\nb"),
    ("chomp", ["\r\r\n"], ""),
    ("indent", [2, "a\nb\n"], "a\n  b\n  "),
    ("indent", [4, ""], ""),
    ("substr", ["hello world", 1, 4], "ello"),
    ("substr", ["hello world", -5, -1], "world"),
    ("substr", ["hello", -10, 2], "he"),
    ("substr", ["abc", 10, 2], ""),
    ("substr", ["abc", 1, 0], ""),
    ("substr", ["héllo", 1, 1], "é"),
    ("strrev", ["hello"], "olleh"),
    ("strrev", [""], ""),
    ("split", [",", "a,,b"], ["a", "", "b"]),
    ("split", [",", ""], [""]),
    ("split", ["", "abc"], ["a", "b", "c"]),
    ("split", ["::", "a::b"], ["a", "b"]),
    ("join", ["-", ["a", "b"], ["c"]], "a-b-c"),
    ("join", [", ", []], ""),
    ("join", [",", [1, True]], "1,true"),
    ("replace", ["a-b-c", "-", "+"], "a+b+c"),
    ("replace", ["hello world", "/w(or)ld/", "x$1"], "hello xor"),
    ("replace", ["hello world", "/o/", "0"], "hell0 w0rld"),
    ("replace", ["a/b", "/", "_"], "a_b"),  # a single "/" is not a regex
    ("replace", ["abc", "", "-"], "-a-b-c-"),
    ("startswith", ["hello", "he"], True),
    ("startswith", ["hello", "lo"], False),
    ("endswith", ["hello", "lo"], True),
    ("strcontains", ["hello", "ell"], True),
])
def test_string_functions(name, args, expected):
    assert call(name, *args) == expected


def test_string_errors():
    assert error("join", ",", ["a", None]).message == \
        "join: argument 2: element 1 is null; nulls cannot be used here"
    assert error("join", ",", "a").message == "join: argument 2 must be a list, got string"
    assert error("indent", "x", "a").arg_index == 0
    assert error("indent", -2, "a\nb").message == "indent: argument 1 must not be negative"
    assert error("substr", "abc", 1.5, 1).message == \
        "substr: argument 2 must be a whole number, got 1.5"


# --- regular expressions -------------------------------------------------------------

@pytest.mark.parametrize("args,expected", [
    (["[a-z]+", "123abc456"], "abc"),
    ([r"(\d+)-(\d+)", "x 12-34 y"], ["12", "34"]),
    ([r"(?P<key>\w+)=(?P<value>\w+)", "a=b"], {"key": "a", "value": "b"}),
    ([r"(?<key>\w+)=(?<value>\w+)", "a=b"], {"key": "a", "value": "b"}),  # RE2's other syntax
    ([r"(a)?b", "b"], [None]),
    ([r"^\d+$", "123"], "123"),
    ([r"[[:alpha:]]+", "12ab3"], "ab"),
    ([r"\Qa.b\E", "xa.by"], "a.b"),
    ([r"(?i)HELLO", "say hello"], "hello"),
])
def test_regex(args, expected):
    assert call("regex", *args) == expected


def test_regex_is_re2_not_python():
    assert error("regex", r"^\d+$", "123\n").message == \
        "regex: pattern did not match any part of the given string"  # RE2 $ is end of text
    assert error("regex", r"\d", "٣").arg_index == 1  # \d is ASCII only in RE2
    assert call("regex", r"\w+", "é_ab") == "_ab"
    e = error("regex", "(", "x")
    assert e.message.startswith("regex: argument 1: invalid regular expression '('")
    assert e.arg_index == 0
    assert "not supported" in error("regex", r"\pL", "x").message
    assert "all named or all unnamed" in error("regex", r"(?P<a>x)(y)", "xy").message
    assert "no backreferences" in error("regex", r"(a)\1", "aa").message
    assert "unsupported Perl syntax" in error("regex", r"a(?=b)", "ab").message
    assert "unsupported Perl syntax" in error("regex_replace", "ab", r"(?<!x)b", "c").message


def test_regexall():
    assert call("regexall", r"\d+", "a1b22c333") == ["1", "22", "333"]
    assert call("regexall", r"(\w)=(\d)", "a=1 b=2") == [["a", "1"], ["b", "2"]]
    assert call("regexall", "x", "abc") == []
    assert call("regexall", "x*", "abxd") == ["", "", "x", ""]  # no empty match right after "x"


@pytest.mark.parametrize("args,expected", [
    (["hello world", r"(\w+) (\w+)", "$2 $1"], "world hello"),
    (["a1b22c", "[0-9]+", "<${0}>"], "a<1>b<22>c"),
    (["k=v", r"(?P<key>\w+)=(?P<val>\w+)", "$val:$key"], "v:k"),
    (["k=v", r"(?P<key>\w+)=(?P<val>\w+)", "${val}x $2x"], "vx "),  # $2x is a group named "2x"
    (["x", "^x$", "$$"], "$"),
    (["abxd", "x*", "-"], "-a-b-d-"),  # Go skips an empty match right after a match
    (["aaa", "a", "b"], "bbb"),
    (["no match", "z", "y"], "no match"),
])
def test_regex_replace(args, expected):
    assert call("regex_replace", *args) == expected


# --- format and formatlist --------------------------------------------------------------

@pytest.mark.parametrize("args,expected", [
    (["%s and %s", "a", "b"], "a and b"),
    (["%v", 1000000], "1e+06"),  # cty prints %v numbers with big.Float's %g
    (["%v|%v|%v|%v", 100000, 0.000012345, 1.5, True], "100000|1.2345e-05|1.5|true"),
    (["%d|%5d|%-5d|%05d|%+d|% d", 42, 42, 42, -42, 7, 5], "42|   42|42   |-0042|+7| 5"),
    (["%f|%.2f|%8.3f|%06.2f", 3.14159, 2.675, -1.5, -1.5], "3.141590|2.67|  -1.500|-01.50"),
    (["%e|%E|%.3e", 123456.789, 0.0001, 1], "1.234568e+05|1.000000E-04|1.000e+00"),
    (["%g|%g|%.3g|%G|%g", 1234567, 0.00001234, 3.14159, 1e-10, 100],
     "1.234567e+06|1.234e-05|3.14|1E-10|100"),
    (["%.0f %.0f", 0.5, 1.5], "0 2"),  # round half to even
    (["%b|%o|%x|%X|%#x|%x", 5, 8, 255, 255, 255, -255], "101|10|ff|FF|0xff|-ff"),
    (["%s|%q|%.2s|%6s|%-6s|%05s", "ab", 'q"<', "hello", "x", "y", "ab"],
     'ab|"q\\"\\u003c"|he|     x|y     |000ab'),
    (["%[2]s %[1]s %s", "a", "b"], "b a b"),
    (["%[2]d %d", 1, 2, 3], "2 3"),
    (["%#v", {"b": 1, "a": [True, None]}], '{"a":[true,null],"b":1}'),
    (["%v %v %v", None, [1, "x"], {"k": "v"}], 'null [1,"x"] {"k":"v"}'),
    (["%#v %#v", "s", 1.5], '"s" 1.5'),
    (["%t %t %5t", True, "false", True], "true false true"),  # cty ignores width for %t
    (["%s %d %s", 12, "7", True], "12 7 true"),
    (["%q", 12], '"12"'),
    (["100%%"], "100%"),
    (["é%3sé", "ü"], "é  üé"),
    (["no verbs"], "no verbs"),
])
def test_format(args, expected):
    assert call("format", *args) == expected


@pytest.mark.parametrize("args,message", [
    (["%d", 1.5], "format: unsupported value for '%d' at 0: an integer is required"),
    (["%s"], "format: not enough arguments for '%s' at 0: need index 1 but have 0 total"),
    (["%s", 1, 2], "format: too many arguments; only 1 used by format string"),
    (["x %s", None], "format: unsupported value for '%s' at 2: null value cannot be formatted"),
    (["%y", 1], "format: unsupported format verb 'y' in '%y' at offset 0"),
    (["abc %", 1], "format: invalid format string starting at offset 4"),
    (["%!", 1], "format: unrecognized format character '!' at offset 1"),
    (["%d", "x"], "format: unsupported value for '%d' at 0: a number is required, got string"),
    (["%s", [1]], "format: unsupported value for '%s' at 0: a string is required, got list"),
    (["%t", 1], "format: unsupported value for '%t' at 0: a bool is required, got number"),
])
def test_format_errors(args, message):
    assert error("format", *args).message == message


def test_format_errors_point_at_the_value_or_the_spec():
    assert error("format", "%s %d", "a", "x").arg_index == 2
    assert error("format", "%[2]t", 1, "maybe").arg_index == 2
    assert error("format", "%s %s", "a").arg_index == 0
    assert error("format", "%y", 1).arg_index == 0


def test_formatlist():
    assert call("formatlist", "%s=%s", ["a", "b"], "x") == ["a=x", "b=x"]
    assert call("formatlist", "%s-%d", ["a", "b"], [1, 2]) == ["a-1", "b-2"]
    assert call("formatlist", "%s", []) == []
    assert call("formatlist", "x") == ["x"]
    assert call("formatlist", "%s", "y") == ["y"]
    e = error("formatlist", "%s%s", ["a"], ["b", "c"])
    assert e.message == ("formatlist: argument 3 has length 2, which is inconsistent with "
                         "argument 2 of length 1")
    assert error("formatlist", "%d", ["x"]).message.startswith(
        "formatlist: error on format iteration 0: unsupported value for '%d'")


# --- collections ---------------------------------------------------------------------

@pytest.mark.parametrize("name,args,expected", [
    ("length", ["héllo"], 5),
    ("length", ["e\u0301x"], 2),  # a letter and its combining accent count once
    ("length", [[1, [2, 3]]], 2),
    ("length", [{"a": 1}], 1),
    ("length", [""], 0),
    ("concat", [[1, 2], [], ["a"]], [1, 2, "a"]),
    ("concat", [[1], [["x"]]], [1, ["x"]]),
    ("merge", [{"a": 1, "b": 2}, {"b": 3, "c": 4}], {"a": 1, "b": 3, "c": 4}),
    ("merge", [{"a": 1}, None, {"b": [1]}], {"a": 1, "b": [1]}),
    ("merge", [], {}),
    ("lookup", [{"a": "x"}, "a", "d"], "x"),
    ("lookup", [{"a": "x"}, "b", "d"], "d"),
    ("lookup", [{"a": None}, "a", "d"], None),
    ("lookup", [{"a": 1}, "a"], 1),
    ("element", [["a", "b", "c"], 4], "b"),
    ("element", [["a", "b"], 1.0], "b"),
    ("coalesce", ["", None, "b", "c"], "b"),
    ("coalesce", [None, 2, 3], 2),
    ("coalesce", [0, 1], 0),
    ("coalesce", ["", 1], "1"),  # unified to string like cty
    ("coalescelist", [[], ["x"], ["y"]], ["x"]),
    ("coalescelist", [None, [1]], [1]),
    ("contains", [["a", "b"], "b"], True),
    ("contains", [[1, 2], 3], False),
    ("contains", [[1, 2], "1"], False),
    ("contains", [[1.0, 2], 1], True),
    ("contains", [[[1], {"a": 1}], {"a": 1}], True),
    ("index", [["a", "b"], "b"], 1),
    ("keys", [{"b": 1, "a": 2}], ["a", "b"]),
    ("keys", [{}], []),
    ("values", [{"b": 1, "a": 2}], [2, 1]),
    ("distinct", [["b", "a", "b"]], ["b", "a"]),
    ("distinct", [[1, "1", 1]], ["1"]),
    ("flatten", [[[1, [2]], [], 3]], [1, 2, 3]),
    ("flatten", [[None, [None]]], [None, None]),
    ("reverse", [[1, 2, 3]], [3, 2, 1]),
    ("sort", [["b", "a", "C", "10", "9"]], ["10", "9", "C", "a", "b"]),
    ("sort", [[10, 9, 1]], ["1", "10", "9"]),
    ("slice", [["a", "b", "c", "d"], 1, 3], ["b", "c"]),
    ("slice", [[1, 2], 2, 2], []),
    ("zipmap", [["a", "b"], [1, 2]], {"a": 1, "b": 2}),
    ("zipmap", [[], []], {}),
    ("range", [3], [0, 1, 2]),
    ("range", [-3], [0, -1, -2]),
    ("range", [1, 4], [1, 2, 3]),
    ("range", [1, 1], []),
    ("range", [5, 0, -2], [5, 3, 1]),
    ("range", [0, 1, 0.25], [0, 0.25, 0.5, 0.75]),
    ("compact", [["a", "", "b", None]], ["a", "b"]),
    ("chunklist", [[1, 2, 3, 4, 5], 2], [[1, 2], [3, 4], [5]]),
    ("chunklist", [[1, 2], 0], [[1, 2]]),
    ("setunion", [["b", "a"], ["c", "a"]], ["a", "b", "c"]),
    ("setintersection", [["b", "a"], ["a", "c"]], ["a"]),
    ("setsubtract", [["a", "b", "c"], ["b"]], ["a", "c"]),
])
def test_collection_functions(name, args, expected):
    assert call(name, *args) == expected


@pytest.mark.parametrize("name,args,message", [
    ("lookup", [{"a": 1}, "b"],
     "lookup: lookup failed to find key 'b' (give a default as argument 3)"),
    ("lookup", [["a"], "a", 1], "lookup: argument 1 must be a map or object, got list"),
    ("element", [[], 0], "element: cannot use element function with an empty list"),
    ("element", [[1], -1], "element: cannot use element function with a negative index"),
    ("length", [5], "length: argument 1 must be a list, map or string, got number"),
    ("coalesce", [None, ""], "coalesce: no non-null, non-empty-string arguments"),
    ("coalesce", ["a", [1]], "coalesce: argument 1: all elements must have the same type, got list, string"),
    ("coalescelist", [[], []], "coalescelist: no non-null, non-empty list arguments"),
    ("concat", [[1], "x"], "concat: argument 2 must be a list, got string"),
    ("merge", [{"a": 1}, [1]], "merge: argument 2 must be a map or object, got list"),
    ("index", [["a"], "z"], "index: item not found"),
    ("slice", [[1, 2], -1, 1], "slice: from index must be greater than or equal to 0"),
    ("slice", [[1, 2], 0, 3], "slice: to index must be less than or equal to the length of the list"),
    ("slice", [[1, 2], 2, 1], "slice: from index must be less than or equal to to index"),
    ("zipmap", [["a"], [1, 2]], "zipmap: number of keys (1) does not match number of values (2)"),
    ("range", [0, 5, 0], "range: step must not be zero"),
    ("sort", [["a", None]], "sort: argument 1: element 1 is null; nulls cannot be used here"),
    ("keys", ["x"], "keys: argument 1 must be a map or object, got string"),
])
def test_collection_errors(name, args, message):
    assert error(name, *args).message == message


def test_numbers_beyond_pythons_int_string_limit():
    big = 10**5000
    assert call("pow", 10, 5000) == big
    assert call("tostring", big) == "1" + "0" * 5000
    assert call("jsonencode", [big]) == "[1" + "0" * 5000 + "]"
    assert call("format", "%d", big) == "1" + "0" * 5000
    assert call("tonumber", "1" + "0" * 5000) == big
    assert call("jsondecode", "1" + "0" * 5000) == big
    assert call("parseint", "9" * 5000, 10) == 10**5000 - 1


@pytest.mark.parametrize("name,args,expected", [
    ("alltrue", [[True, "true"]], True),
    ("alltrue", [[True, False]], False),
    ("alltrue", [[]], True),
    ("alltrue", [[True, None]], False),
    ("anytrue", [[False, "true"]], True),
    ("anytrue", [[None, False]], False),
    ("anytrue", [[]], False),
    ("sum", [[1, 2.5, "3"]], 6.5),
    ("sum", [[1, 2]], 3),
    ("sum", [[0.5, 0.5]], 1),
    ("sum", [[0.1, 0.2]], 0.3),
    ("sum", [[10**30, 1]], 10**30 + 1),
    ("one", [[]], None),
    ("one", [["x"]], "x"),
    ("transpose", [{"a": ["1", "2"], "b": ["2", "3"]}], {"1": ["a"], "2": ["a", "b"], "3": ["b"]}),
    ("matchkeys", [["i-1", "i-2", "i-3"], ["us", "eu", "us"], ["us"]], ["i-1", "i-3"]),
])
def test_terraform_collection_functions(name, args, expected):
    assert call(name, *args) == expected


@pytest.mark.parametrize("name,args,message", [
    ("alltrue", [[1]], "alltrue: argument 1: element 0 must be a bool, got number"),
    ("sum", [[]], "sum: cannot sum an empty list"),
    ("sum", [[1, None]], "sum: argument 1: element 1 is null; nulls cannot be summed"),
    ("sum", [["x"]], "sum: argument 1: element 0 must be a number, got string"),
    ("one", [[1, 2]], "one: must be a list, set, or tuple value with either zero or one elements, got 2"),
    ("transpose", [{"a": [[1]]}], "transpose: argument 1 must be a list of strings, element 0 is list"),
    ("matchkeys", [[1, 2], [1], [1]], "matchkeys: length of keys and values should be equal"),
])
def test_terraform_collection_errors(name, args, message):
    assert error(name, *args).message == message


def test_range_refuses_more_than_1024_values():
    assert len(call("range", 1024)) == 1024
    assert "more than 1024 values" in error("range", 1025).message


# --- numbers ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,expected", [
    ("min", [3, 1.5, 2], 1.5),
    ("min", [3, "1", 2], 1),
    ("max", [3, "7", 2], 7),
    ("max", [-1], -1),
    ("abs", [-3.5], 3.5),
    ("abs", [0], 0),
    ("ceil", [1.2], 2),
    ("ceil", [-0.5], 0),
    ("ceil", [4], 4),
    ("floor", [-1.2], -2),
    ("floor", [1.9], 1),
    ("log", [8, 2], 3),
    ("log", [1, 10], 0),
    ("pow", [2, 10], 1024),
    ("pow", [4, 0.5], 2),
    ("pow", [2, -1], 0.5),
    ("signum", [-7], -1),
    ("signum", [0], 0),
    ("signum", [0.5], 1),
    ("parseint", ["FF", 16], 255),
    ("parseint", ["-101", 2], -5),
    ("parseint", ["zZ", 62], 35 * 62 + 61),
    ("parseint", ["zz", 36], 35 * 36 + 35),
])
def test_number_functions(name, args, expected):
    result = call(name, *args)
    assert result == expected and not isinstance(result, bool)


@pytest.mark.parametrize("name,args,message", [
    ("min", ["a"], "min: argument 1 must be a number; cannot convert 'a' to number "
                   "(a string must be a decimal representation of a number)"),
    ("max", [1, [2]], "max: argument 2 must be a number, got list"),
    ("log", [0, 10], "log: argument 1 must be greater than zero"),
    ("log", [8, 1], "log: argument 2 (the base) must be greater than zero and not 1"),
    ("pow", [0, -1], "pow: zero cannot be raised to a negative power"),
    ("parseint", ["0x10", 16], "parseint: cannot parse '0x10' as a base 16 integer"),
    ("parseint", ["12", 1], "parseint: base must be a whole number between 2 and 62 inclusive"),
    ("parseint", ["", 10], "parseint: cannot parse '' as a base 10 integer"),
])
def test_number_errors(name, args, message):
    assert error(name, *args).message == message


# --- networks --------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,expected", [
    ("cidrhost", ["10.12.112.0/20", 16], "10.12.112.16"),
    ("cidrhost", ["10.12.112.0/20", 268], "10.12.113.12"),
    ("cidrhost", ["10.0.0.0/24", -1], "10.0.0.255"),
    ("cidrhost", ["10.1.2.3/16", 5], "10.1.0.5"),  # host bits of the prefix are ignored
    ("cidrhost", ["fd00:fd12:3456:7890:00a2::/72", 34], "fd00:fd12:3456:7890::22"),
    ("cidrnetmask", ["172.16.0.0/12"], "255.240.0.0"),
    ("cidrnetmask", ["10.0.0.0/32"], "255.255.255.255"),
    ("cidrsubnet", ["172.16.0.0/12", 4, 2], "172.18.0.0/16"),
    ("cidrsubnet", ["10.1.2.0/24", 4, 15], "10.1.2.240/28"),
    ("cidrsubnet", ["10.1.2.0/24", 0, 0], "10.1.2.0/24"),
    ("cidrsubnet", ["fd00:fd12:3456:7890::/56", 16, 162], "fd00:fd12:3456:7800:a200::/72"),
    ("cidrsubnets", ["10.1.0.0/16", 4, 4, 8, 4],
     ["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20"]),
    ("cidrsubnets", ["10.1.0.0/16", 8, 4, 8], ["10.1.0.0/24", "10.1.16.0/20", "10.1.32.0/24"]),
    ("cidrsubnets", ["10.0.0.0/8"], []),
    ("setproduct", [["a", "b"], [1, 2]], [["a", 1], ["a", 2], ["b", 1], ["b", 2]]),
    ("setproduct", [["x"], []], []),
])
def test_network_and_product_functions(name, args, expected):
    assert call(name, *args) == expected


@pytest.mark.parametrize("name,args,message", [
    ("cidrhost", ["10.0.0.0/24", 256], "cidrhost: prefix of 24 bits cannot accommodate a host numbered 256"),
    ("cidrhost", ["nonsense", 1], "cidrhost: invalid CIDR expression: 'nonsense' (expected e.g. \"10.0.0.0/16\")"),
    ("cidrsubnet", ["10.0.0.0/30", 4, 0], "cidrsubnet: insufficient address space to extend prefix of 30 by 4"),
    ("cidrsubnet", ["10.0.0.0/16", 2, 4], "cidrsubnet: prefix extension of 2 does not accommodate a subnet numbered 4"),
    ("cidrsubnets", ["10.0.0.0/30", 1, 1, 1], "cidrsubnets: not enough remaining address space for a "
                                               "subnet with a prefix of 31 bits after 10.0.0.2/31"),
    ("cidrsubnets", ["10.0.0.0/30", 3], "cidrsubnets: would extend prefix to 33 bits, which is too long "
                                        "for an IPv4 address"),
])
def test_network_errors(name, args, message):
    assert error(name, *args).message == message


# --- conversions -----------------------------------------------------------------------

@pytest.mark.parametrize("name,arg,expected", [
    ("tostring", "x", "x"),
    ("tostring", 2.0, "2"),
    ("tostring", 1.5, "1.5"),
    ("tostring", 1e20, "100000000000000000000"),
    ("tostring", 1e-7, "0.0000001"),
    ("tostring", True, "true"),
    ("tostring", None, None),
    ("tonumber", "42", 42),
    ("tonumber", "1.5", 1.5),
    ("tonumber", 3, 3),
    ("tonumber", None, None),
    ("tobool", "true", True),
    ("tobool", False, False),
    ("tolist", ["a", 1, True], ["a", "1", "true"]),
    ("tolist", [1, 2], [1, 2]),
    ("toset", ["b", "a", "b"], ["a", "b"]),
    ("toset", [3, 1, 2, 1.0], [1, 2, 3]),
    ("toset", ["b", 1, "a", 1], ["1", "a", "b"]),
    ("toset", [True, False, True], [False, True]),
    ("toset", [], []),
    ("tomap", {"a": 1, "b": "x"}, {"a": "1", "b": "x"}),
])
def test_conversions(name, arg, expected):
    assert call(name, arg) == expected


@pytest.mark.parametrize("name,arg,message", [
    ("tostring", [1], "tostring: cannot convert list to string"),
    ("tostring", {"a": 1}, "tostring: cannot convert object to string"),
    ("tonumber", "abc", "tonumber: argument 1 must be a number; cannot convert 'abc' to number "
                        "(a string must be a decimal representation of a number)"),
    ("tonumber", True, "tonumber: cannot convert bool to number"),
    ("tobool", "yes", "tobool: argument 1 must be a bool; cannot convert 'yes' to bool "
                      "(only \"true\" or \"false\" are allowed)"),
    ("tolist", "x", "tolist: cannot convert string to list"),
    ("toset", {"a": 1}, "toset: cannot convert object to set"),
    ("tolist", [1, [2]], "tolist: argument 1: all elements must have the same type, got list, number"),
    ("tolist", [1, True], "tolist: argument 1: all elements must have the same type; "
                          "cannot mix numbers and bools"),
    ("tomap", [1], "tomap: cannot convert list to map"),
])
def test_conversion_errors(name, arg, message):
    assert error(name, arg).message == message


# --- encodings and hashes --------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ({"b": [1, 2.5, "<&>", None, True], "a": "é\n"},
     '{"a":"é\\n","b":[1,2.5,"\\u003c\\u0026\\u003e",null,true]}'),
    ("\b\f\u2028\x01", '"\\u0008\\u000c\\u2028\\u0001"'),
    (1e20, "100000000000000000000"),
    (2.0, "2"),
    ([], "[]"),
    ({}, "{}"),
    (None, "null"),
])
def test_jsonencode(value, expected):
    assert call("jsonencode", value) == expected


def test_jsondecode():
    assert call("jsondecode", '{"a": [1, 2.5, null, true, "x"]}') == {"a": [1, 2.5, None, True, "x"]}
    assert call("jsondecode", "1e3") == 1000
    assert call("jsondecode", "12345678901234567890") == 12345678901234567890
    assert call("jsondecode", '"s"') == "s"
    e = error("jsondecode", "{")
    assert e.message.startswith("jsondecode: argument 1 is not valid JSON: ") and e.arg_index == 0
    assert "not valid JSON" in error("jsondecode", "NaN").message
    assert "not valid JSON" in error("jsondecode", "1 2").message


def test_yamlencode_writes_go_yaml_block_style():
    assert call("yamlencode", {"b": [1, {"x": "y"}], "a": "multi\nline", "c": {}}) == (
        '"a": |-\n  multi\n  line\n"b":\n- 1\n- "x": "y"\n"c": {}\n')
    assert call("yamlencode", [[1, 2], "tab\t"]) == '- - 1\n  - 2\n- "tab\\t"\n'
    assert call("yamlencode", None) == "null\n...\n"
    assert call("yamlencode", "x") == '"x"\n'


def test_yamldecode_and_csvdecode():
    assert call("yamldecode", "a: [1, x, true]\nb: null\nd: 2020-01-01\n") == \
        {"a": [1, "x", True], "b": None, "d": "2020-01-01T00:00:00Z"}
    assert "more than one YAML document" in error("yamldecode", "a: 1\n---\nb: 2\n").message
    assert "not valid YAML" in error("yamldecode", "? [a]\n: b\n").message  # a list as a key
    assert "cannot be read as YAML" in error("yamldecode", "1" + "0" * 5000).message
    assert "not valid YAML" in error("yamldecode", "a: [").message
    assert call("csvdecode", "a,b\n1,2\n3,4\n") == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert "wrong number of fields" in error("csvdecode", "a,b\n1\n").message


@pytest.mark.parametrize("name,algo", [("md5", "md5"), ("sha1", "sha1"), ("sha256", "sha256"),
                                       ("sha512", "sha512")])
def test_hashes(name, algo):
    assert call(name, "héllo") == hashlib.new(algo, "héllo".encode()).hexdigest()


def test_base64_functions():
    assert call("base64encode", "héllo") == "aMOpbGxv"
    assert call("base64decode", "aMOpbGxv") == "héllo"
    assert call("base64encode", "") == ""
    assert call("base64sha256", "hello") == base64.b64encode(hashlib.sha256(b"hello").digest()).decode()
    assert call("base64sha512", "x") == base64.b64encode(hashlib.sha512(b"x").digest()).decode()
    assert error("base64decode", "!!").message == "base64decode: argument 1: failed to decode base64 data '!!'"
    assert error("base64decode", "/w==").message == \
        "base64decode: the result of decoding the provided string is not valid UTF-8"
    assert base64.b64decode(call("base64gzip", "x"))[:2] == b"\x1f\x8b"


def test_urlencode():
    assert call("urlencode", "a b&c=d/é~_.-") == "a+b%26c%3Dd%2F%C3%A9~_.-"


def test_uuids():
    u = call("uuidv4")
    assert uuid.UUID(u).version == 4 and u != call("uuidv4")
    assert call("uuidv5", "dns", "example.com") == "cfbff0d1-9375-5685-968c-48ce8b15ae17"
    assert call("uuidv5", "url", "x") == str(uuid.uuid5(uuid.NAMESPACE_URL, "x"))
    assert call("uuidv5", "6ba7b811-9dad-11d1-80b4-00c04fd430c8", "x") == \
        str(uuid.uuid5(uuid.NAMESPACE_URL, "x"))
    assert "doesn't support namespace prefix 'nope'" in error("uuidv5", "nope", "x").message


# --- time ----------------------------------------------------------------------------------

def test_timestamp_is_rfc3339_utc_and_fixed_for_a_run():
    fixed = FunctionContext(base_dir=".", now=datetime(2026, 11, 25, 18, 0, 0, 123, tzinfo=timezone.utc))
    assert call("timestamp", ctx=fixed) == "2026-11-25T18:00:00Z"
    run = FunctionContext(base_dir=".")
    first = call("timestamp", ctx=run)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first)
    assert run.now is not None and call("timestamp", ctx=run) == first
    naive = FunctionContext(base_dir=".", now=datetime(2026, 1, 2, 3, 4, 5))
    assert call("timestamp", ctx=naive) == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize("spec,ts,expected", [
    ("YYYY-MM-DD'T'hh:mm:ssZ", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
    ("EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2026-11-25T18:00:00Z", "Wednesday, 25-Nov-26 18:00:00 UTC"),
    ("EEE MMMM D, H:m:s aa AA ZZZZ ZZZZZ Z ZZZ", "2026-07-04T00:05:09+05:30",
     "Sat July 4, 12:5:9 am AM +0530 +05:30 +05:30 +0530"),
    ("h 'o''clock' '' YYYY", "2026-07-04T13:00:00-08:00", "13 o'clock ' 2026"),
    ("HH:mm aa", "2026-07-04T13:07:00Z", "01:07 pm"),
    ("DD MMM YYYY hh:mm", "2026-02-03T04:05:06.789Z", "03 Feb 2026 04:05"),
    ("M/D/YY", "2026-02-03T04:05:06Z", "2/3/26"),
    ("", "2026-02-03T04:05:06Z", ""),
])
def test_formatdate(spec, ts, expected):
    assert call("formatdate", spec, ts) == expected


@pytest.mark.parametrize("spec,ts,message", [
    ("YYY", "2026-01-01T00:00:00Z",
     "formatdate: argument 1: invalid date format verb 'YYY': year must either be \"YY\" or \"YYYY\""),
    ("x", "2026-01-01T00:00:00Z", "formatdate: argument 1: invalid date format verb 'x'"),
    ("'abc", "2026-01-01T00:00:00Z", "formatdate: argument 1: unterminated literal '"),
    ("ZZ", "2026-01-01T00:00:00Z",
     "formatdate: argument 1: invalid date format verb 'ZZ': timezone must be Z, ZZZZ, or ZZZZZ"),
    ("YYYY", "2026-01-01", "formatdate: argument 2: not a valid RFC3339 timestamp '2026-01-01': "
                           "missing required time introducer 'T'"),
    ("YYYY", "2026-01-01T00:00:00", "formatdate: argument 2: not a valid RFC3339 timestamp "
                                    "'2026-01-01T00:00:00': missing or invalid UTC offset (use Z or +hh:mm)"),
    ("YYYY", "2026-13-01T00:00:00Z", "formatdate: argument 2: not a valid RFC3339 timestamp "
                                     "'2026-13-01T00:00:00Z': month must be in 1..12"),
])
def test_formatdate_errors(spec, ts, message):
    e = error("formatdate", spec, ts)
    assert e.message == message
    assert e.arg_index == (0 if "argument 1" in message else 1)


def test_timeadd():
    assert call("timeadd", "2026-01-31T23:00:00Z", "1h30m") == "2026-02-01T00:30:00Z"
    assert call("timeadd", "2026-01-01T00:00:00+01:00", "-1.5h") == "2025-12-31T22:30:00+01:00"
    assert call("timeadd", "2026-01-01T00:00:00Z", "0") == "2026-01-01T00:00:00Z"
    assert call("timeadd", "2026-01-01T00:00:00Z", "1.5s") == "2026-01-01T00:00:01Z"
    assert call("timeadd", "0515-08-09T17:14:12+14:00", "0") == "0515-08-09T17:14:12+14:00"
    assert error("timeadd", "2026-01-01T00:00:00Z", "1d").message == \
        'timeadd: argument 2: "1d" is not a duration: use a number with a unit, such as "30s", "5m" or "1h30m"'
    assert error("timeadd", "9999-12-31T23:00:00Z", "2h").message == \
        "timeadd: the result is outside the years 1 to 9999"
    assert "is too long for a duration" in error("timeadd", "2026-01-01T00:00:00Z", "999999999h").message


@pytest.mark.parametrize("layout,expected", [
    ("2006-01-02T15:04:05Z07:00", "2026-01-02T15:04:05Z"),
    ("Mon Jan _2 15:04:05 MST 2006", "Fri Jan  2 15:04:05 UTC 2026"),
    ("January 2, 2006 3:04:05.000 PM -0700", "January 2, 2026 3:04:05.123 PM +0000"),
    ("06 002 .999 .9 pm 20060102150405", "26 002 .123 .1 pm 20260102150405"),
    ("Monday _2006 07", "Friday _2026 07"),
    ("", ""),
])
def test_legacy_isotime_uses_go_layouts(layout, expected):
    fixed = FunctionContext(base_dir=".", now=datetime(2026, 1, 2, 15, 4, 5, 123456, tzinfo=timezone.utc))
    assert call("legacy_isotime", layout, ctx=fixed) == expected


def test_legacy_strftime():
    fixed = FunctionContext(base_dir=".", now=datetime(2026, 1, 2, 15, 4, 5, tzinfo=timezone.utc))
    assert call("legacy_strftime", "%Y-%m-%dT%H:%M:%S%z", ctx=fixed) == "2026-01-02T15:04:05+0000"
    assert call("legacy_strftime", "%a %b %e %k %l %C %j %p %Z %v %%", ctx=fixed) == \
        "Fri Jan  2 15  3 20 002 PM UTC  2-Jan-2026 %"
    assert error("legacy_strftime", "%Q", ctx=fixed).message == \
        "legacy_strftime: argument 1: unknown time format directive %Q"
    run = FunctionContext(base_dir=".")
    assert call("legacy_isotime", "2006", ctx=run) == call("timestamp", ctx=run)[:4]


# --- files and paths -----------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    (tmp_path / "data" / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "data" / "other").mkdir()
    (tmp_path / "data" / "hello.txt").write_text("héllo\n")
    (tmp_path / "data" / "top.md").write_text("x")
    (tmp_path / "data" / ".hidden").write_text("h")
    (tmp_path / "data" / "sub" / "a.txt").write_text("a")
    (tmp_path / "data" / "sub" / "bb.txt").write_text("b")
    (tmp_path / "data" / "other" / "c.txt").write_text("c")
    (tmp_path / "data" / "sub" / "deeper" / "d.txt").write_text("d")
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe\x00")
    return tmp_path


def test_file_reads_relative_to_base_dir(tree, ctx):
    assert call("file", "data/hello.txt", ctx=ctx) == "héllo\n"
    assert call("file", str(tree / "data" / "top.md"), ctx=ctx) == "x"
    e = error("file", "data/missing.txt", ctx=ctx)
    assert e.message.startswith("file: no file exists at 'data/missing.txt'") and e.arg_index == 0
    assert "not valid UTF-8; use filebase64" in error("file", "bin.dat", ctx=ctx).message
    assert "is a directory" in error("file", "data", ctx=ctx).message
    assert call("filebase64", "bin.dat", ctx=ctx) == "//4A"
    assert call("filesha256", "data/top.md", ctx=ctx) == hashlib.sha256(b"x").hexdigest()
    assert call("filemd5", "data/top.md", ctx=ctx) == hashlib.md5(b"x").hexdigest()
    assert call("fileexists", "data/top.md", ctx=ctx) is True
    assert call("fileexists", "nope", ctx=ctx) is False


@pytest.mark.parametrize("path,pattern,expected", [
    (".", "data/**/*.txt", ["data/hello.txt", "data/other/c.txt", "data/sub/a.txt",
                            "data/sub/bb.txt", "data/sub/deeper/d.txt"]),
    ("data", "*", [".hidden", "hello.txt", "top.md"]),
    ("data", "*.txt", ["hello.txt"]),
    ("data", "**", [".hidden", "hello.txt", "other/c.txt", "sub/a.txt", "sub/bb.txt",
                    "sub/deeper/d.txt", "top.md"]),
    ("data", "sub/**", ["sub/a.txt", "sub/bb.txt", "sub/deeper/d.txt"]),
    ("data", "{sub,other}/?.txt", ["other/c.txt", "sub/a.txt"]),
    ("data", "sub/[ab]*.txt", ["sub/a.txt", "sub/bb.txt"]),
    ("data", "sub/[!b]*.txt", ["sub/a.txt"]),
    ("data", "sub", []),  # folders are not listed
    ("nope", "*", []),
])
def test_fileset(tree, ctx, path, pattern, expected):
    assert call("fileset", path, pattern, ctx=ctx) == expected


@pytest.mark.parametrize("path,pattern,expected", [
    (".", "./data/*.txt", ["data/hello.txt"]),
    ("data/sub", "../*.txt", ["../hello.txt"]),
    ("./data/", "/sub/a.txt", ["sub/a.txt"]),
    ("data", "sub/a.txt", ["sub/a.txt"]),
    ("data", "sub/zz.txt", []),
])
def test_fileset_joins_and_cleans_the_pattern_like_terraform(tree, ctx, path, pattern, expected):
    assert call("fileset", path, pattern, ctx=ctx) == expected


def test_fileset_follows_symlinks_without_looping(tree, ctx):
    (tree / "data" / "sub" / "loop").symlink_to(tree / "data")
    (tree / "data" / "sub" / "link.txt").symlink_to(tree / "data" / "top.md")
    result = call("fileset", "data", "**", ctx=ctx)
    assert "sub/link.txt" in result and "sub/loop" not in result
    assert not any(r.startswith("sub/loop/") for r in result)


def test_fileset_bad_pattern(tree, ctx):
    assert "missing ]" in error("fileset", ".", "[ab", ctx=ctx).message


def test_paths(tree, ctx):
    assert call("abspath", "a/../b", ctx=ctx) == str(tree / "b")
    assert call("abspath", "/x/./y/", ctx=ctx) == "/x/y"
    rel = FunctionContext(base_dir="templates")
    assert call("abspath", "x", ctx=rel) == os.path.join(os.getcwd(), "templates", "x")
    assert call("pathexpand", "~/x", ctx=ctx) == "/home/u/x"
    assert call("pathexpand", "a/~", ctx=ctx) == "a/~"


@pytest.mark.parametrize("name,arg,expected", [
    ("basename", "a/b/c.txt", "c.txt"),
    ("basename", "a/b/", "b"),
    ("basename", "", "."),
    ("basename", "/", "/"),
    ("dirname", "a/b/c.txt", "a/b"),
    ("dirname", "c.txt", "."),
    ("dirname", "/a", "/"),
    ("dirname", "", "."),
    ("dirname", "a//b", "a"),
    ("dirname", "//a", "/"),
    ("dirname", "../a/./b", "../a"),
])
def test_basename_dirname(name, arg, expected):
    assert call(name, arg) == expected


def test_templatefile_reads_relative_and_delegates_rendering(tree):
    seen = []

    def render(text, variables, filename):
        seen.append((text, variables, filename))
        return text.replace("${name}", variables["name"])

    (tree / "greet.tpl").write_text("hello ${name}\n")
    rctx = FunctionContext(base_dir=str(tree), render_template=render)
    assert call("templatefile", "greet.tpl", {"name": "web"}, ctx=rctx) == "hello web\n"
    assert seen == [("hello ${name}\n", {"name": "web"}, str(tree / "greet.tpl"))]
    assert "invalid template variable name '1x'" in error(
        "templatefile", "greet.tpl", {"1x": 1}, ctx=rctx).message
    assert error("templatefile", "greet.tpl", [1], ctx=rctx).arg_index == 1
    assert error("templatefile", "missing.tpl", {}, ctx=rctx).message.startswith(
        "templatefile: no file exists at 'missing.tpl'")
    bare = FunctionContext(base_dir=str(tree))
    assert "not available in this context" in error("templatefile", "greet.tpl", {}, ctx=bare).message


def test_env(ctx):
    assert call("env", "GREETING", ctx=ctx) == "hi"
    assert call("env", "NOT_SET", ctx=ctx) == ""
    assert FunctionContext(base_dir=".").environ is os.environ


# --- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


def _normalized(v):
    """Values as cty sees them: 2.0 and 2 are the same number, a float is its shortest decimal
    (9.957189222310806e16 is 99571892223108060), strings are NFC."""
    if isinstance(v, float) and v.is_integer():
        return int(Decimal(repr(v)))
    if isinstance(v, str):
        return unicodedata.normalize("NFC", v)
    if isinstance(v, list):
        return [_normalized(x) for x in v]
    if isinstance(v, dict):
        return {_normalized(k): _normalized(x) for k, x in v.items()}
    return v


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_jsonencode_jsondecode_round_trip(value):
    text = call("jsonencode", value)
    assert _normalized(call("jsondecode", text)) == _normalized(value)
    assert _normalized(json.loads(text)) == _normalized(value)  # also valid JSON for Python


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_base64_round_trip(text):
    nfc = unicodedata.normalize("NFC", text)  # cty strings are NFC before they are encoded
    encoded = call("base64encode", text)
    assert base64.b64decode(encoded) == nfc.encode("utf-8", "surrogatepass")
    if not any("\ud800" <= c <= "\udfff" for c in text):
        assert call("base64decode", encoded) == nfc


no_marks = st.text(alphabet=st.characters(blacklist_categories=("Mn", "Mc", "Me", "Cs")))


@settings(max_examples=200, deadline=None)
@given(no_marks.filter(lambda s: 1 <= len(s) <= 3), st.lists(no_marks, max_size=6))
def test_split_join_round_trip(sep, parts):
    nfc = [unicodedata.normalize("NFC", p) for p in parts]
    sep_nfc = unicodedata.normalize("NFC", sep)
    joined = call("join", sep, parts)
    if all(sep_nfc not in p for p in nfc) and parts:
        assert call("split", sep, joined) == nfc
    assert call("join", sep, call("split", sep, joined)) == joined


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=3) | st.integers(-5, 5), max_size=8))
def test_toset_is_idempotent_sorted_and_unique(items):
    once = call("toset", items)
    assert call("toset", once) == once
    assert len(once) == len({json.dumps(x) for x in once})
    assert once == sorted(once)  # one element type after conversion, so plain order
    if any(isinstance(x, str) for x in items):
        assert all(isinstance(x, str) for x in once)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=4), max_size=8))
def test_distinct_keeps_first_occurrences(items):
    out = call("distinct", items)
    assert out == list(dict.fromkeys(items))


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_upper_lower_keep_length_and_strrev_reverses(text):
    nfc = unicodedata.normalize("NFC", text)
    assert len(call("upper", text)) == len(nfc)
    assert len(call("lower", text)) == len(nfc)
    rev = call("strrev", call("strrev", text))
    # reversing grapheme clusters is an involution only when no cluster can form across the
    # reversal: a leading combining mark, a joiner, Hangul jamo or regional indicators can merge
    # with a neighbour once moved (as in cty). Otherwise the code points must still all be there.
    def merges(ch):
        cat = unicodedata.category(ch)
        return cat.startswith("M") or cat == "Cf" or "\u1100" <= ch <= "\u11ff" or "\U0001f1e6" <= ch <= "\U0001f1ff" \
            or "\ua960" <= ch <= "\ua97f" or "\ud7b0" <= ch <= "\ud7ff" or ch in "\r\n"
    if not any(merges(ch) for ch in nfc):
        assert rev == nfc
    else:
        assert sorted(rev) == sorted(nfc)


any_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.just(UNKNOWN)
    | st.sampled_from([5000, -5000]).map(lambda k: 10**abs(k) if k > 0 else -(10**-k))
    | st.sampled_from(["9" * 5000, 1e300, 2**63, "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00",
                       "2562047h", "-2562047h", "10.0.0.0/8", "::/0", "2006-01-02", "%Y %Q"])
    | st.sampled_from(["%", "%d", "%[3]s", "[", "(", "*", "**", "YYYY", "1.5", "-2", "true",
                       "2026-01-01T00:00:00Z", "1h", "/a/", "dns", "{", "a,b"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "a").mkdir()
    (root / "a" / "x.txt").write_text("x")
    return root


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(sorted(FUNCTIONS)), st.lists(any_values, max_size=4))
def test_any_input_gives_a_value_or_a_function_error(fuzz_dir, name, args):
    """Bad input never escapes as anything but FunctionError (no tracebacks for users)."""
    ctx = FunctionContext(base_dir=str(fuzz_dir), environ={})
    try:
        result = call_function(name, args, ctx)
    except FunctionError as e:
        assert e.message and (e.arg_index is None or 0 <= e.arg_index < max(len(args), 1))
    else:
        if not is_unknown(result):
            call("jsonencode", result)  # every result is a valid HCL value


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_yamlencode_yamldecode_round_trip(value):
    assert _normalized(call("yamldecode", call("yamlencode", value))) == _normalized(value)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z",
                        "2026-02-28T12:00:00-23:59", "1999-12-31T23:59:60Z", "2026-01-01T00:00:00.999999999Z"]),
       st.sampled_from(["2562047h", "-2562047h", "1ns", "-1ns", "24h", "-24h", "0", ".5s", "1e3s"]),
       st.text(alphabet="YMDEhHAamsZ' ", max_size=8))
def test_time_functions_at_the_edges_raise_only_function_errors(ts, duration, spec):
    for name, args in (("timeadd", [ts, duration]), ("formatdate", [spec, ts])):
        try:
            call(name, *args)
        except FunctionError:
            pass
