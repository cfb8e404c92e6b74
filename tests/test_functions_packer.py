"""Differential tests: our functions against Packer 1.6.6's own (cty) implementations.

All cases go into one template's ``locals`` block; a ``null`` source with a ``shell-local``
provisioner writes ``jsonencode(local.r)`` (base64, to survive the shell) to a file, which
we compare with our results case by case. Needs Debian's packer (apt-get install packer).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from releasemgr.template.functions import FunctionContext, FunctionError, call_function, json_encode

pytestmark = pytest.mark.packer

# (HCL expression for Packer, our function name, our arguments)
CASES = [
    ('lower("HeLLo ÀÉ")', "lower", ["HeLLo ÀÉ"]),
    ('upper("straße")', "upper", ["straße"]),
    ('upper(5)', "upper", [5]),
    ('upper("ᾳ ǰ ﬁ")', "upper", ["ᾳ ǰ ﬁ"]),
    ('lower("ΟΔΟΣ İ")', "lower", ["ΟΔΟΣ İ"]),
    ('title("hello wORLD-foo_bar x.y")', "title", ["hello wORLD-foo_bar x.y"]),
    ('trimspace("  \\t x y \\n")', "trimspace", [" \t x y \n"]),
    ('trim("?!hello?!", "!?")', "trim", ["?!hello?!", "!?"]),
    ('trimprefix("helloworld", "hello")', "trimprefix", ["helloworld", "hello"]),
    ('trimsuffix("helloworld", "world")', "trimsuffix", ["helloworld", "world"]),
    ('chomp("hello\\r\\n\\n")', "chomp", ["hello\r\n\n"]),
    ('indent(2, "a\\nb\\n")', "indent", [2, "a\nb\n"]),
    ('substr("hello world", 1, 4)', "substr", ["hello world", 1, 4]),
    ('substr("hello world", -5, -1)', "substr", ["hello world", -5, -1]),
    ('substr("abc", 10, 2)', "substr", ["abc", 10, 2]),
    ('strrev("héllo")', "strrev", ["héllo"]),
    ('replace("a-b-c", "-", "+")', "replace", ["a-b-c", "-", "+"]),
    ('regex_replace("abxd", "x*", "-")', "regex_replace", ["abxd", "x*", "-"]),
    ('regex_replace("hello world", "(\\\\w+) (\\\\w+)", "$2 $1")', "regex_replace",
     ["hello world", r"(\w+) (\w+)", "$2 $1"]),
    ('regex_replace("a1b22c", "[0-9]+", "<$${0}>")', "regex_replace", ["a1b22c", "[0-9]+", "<${0}>"]),
    ('regex_replace("k=v", "(?P<key>\\\\w+)=(?P<val>\\\\w+)", "$val:$key $2x $$")', "regex_replace",
     ["k=v", r"(?P<key>\w+)=(?P<val>\w+)", "$val:$key $2x $$"]),
    ('regex_replace("x", "^x$", "$$")', "regex_replace", ["x", "^x$", "$$"]),
    ('split(",", "a,,b")', "split", [",", "a,,b"]),
    ('split(",", "")', "split", [",", ""]),
    ('join("-", ["a", "b"], ["c"])', "join", ["-", ["a", "b"], ["c"]]),
    ('join(", ", [])', "join", [", ", []]),
    ('format("%v", 1000000)', "format", ["%v", 1000000]),
    ('format("%v|%v|%v|%v", 100000, 0.000012345, 1.5, true)', "format",
     ["%v|%v|%v|%v", 100000, 0.000012345, 1.5, True]),
    ('format("%d|%5d|%-5d|%05d|%+d", 42, 42, 42, -42, 7)', "format",
     ["%d|%5d|%-5d|%05d|%+d", 42, 42, 42, -42, 7]),
    ('format("%f|%.2f|%8.3f|%e|%E|%.3e", 3.14159, 2.675, -1.5, 123456.789, 0.0001, 1)', "format",
     ["%f|%.2f|%8.3f|%e|%E|%.3e", 3.14159, 2.675, -1.5, 123456.789, 0.0001, 1]),
    ('format("%g|%g|%.3g|%G|%g", 1234567, 0.00001234, 3.14159, 1e-10, 100)', "format",
     ["%g|%g|%.3g|%G|%g", 1234567, 0.00001234, 3.14159, 1e-10, 100]),
    ('format("%b|%o|%x|%X|%#x", 5, 8, 255, 255, 255)', "format", ["%b|%o|%x|%X|%#x", 5, 8, 255, 255, 255]),
    ('format("%s|%q|%.2s|%6s|%-6s|", "ab", "q\\"<", "hello", "x", "y")', "format",
     ["%s|%q|%.2s|%6s|%-6s|", "ab", 'q"<', "hello", "x", "y"]),
    ('format("%[2]s %[1]s %s", "a", "b")', "format", ["%[2]s %[1]s %s", "a", "b"]),
    ('format("%#v %v %v %t %%", {b = 1, a = [true]}, null, [1, "x"], true)', "format",
     ["%#v %v %v %t %%", {"b": 1, "a": [True]}, None, [1, "x"], True]),
    ('format("%s %d", 12, "7")', "format", ["%s %d", 12, "7"]),
    ('formatlist("%s=%s", ["a", "b"], "x")', "formatlist", ["%s=%s", ["a", "b"], "x"]),
    ('formatlist("%s-%d", ["a", "b"], [1, 2])', "formatlist", ["%s-%d", ["a", "b"], [1, 2]]),
    ('formatdate("YYYY-MM-DD\'T\'hh:mm:ssZ", "2026-01-02T03:04:05Z")', "formatdate",
     ["YYYY-MM-DD'T'hh:mm:ssZ", "2026-01-02T03:04:05Z"]),
    ('formatdate("EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2026-11-25T18:00:00Z")', "formatdate",
     ["EEEE, DD-MMM-YY hh:mm:ss ZZZ", "2026-11-25T18:00:00Z"]),
    ('formatdate("EEE MMMM D, H:m:s aa AA ZZZZ ZZZZZ Z ZZZ", "2026-07-04T00:05:09+05:30")',
     "formatdate", ["EEE MMMM D, H:m:s aa AA ZZZZ ZZZZZ Z ZZZ", "2026-07-04T00:05:09+05:30"]),
    ('formatdate("h \'o\'\'clock\' \'\' YYYY", "2026-07-04T13:00:00-08:00")', "formatdate",
     ["h 'o''clock' '' YYYY", "2026-07-04T13:00:00-08:00"]),
    ('timeadd("2026-01-31T23:00:00Z", "1h30m")', "timeadd", ["2026-01-31T23:00:00Z", "1h30m"]),
    ('timeadd("2026-01-01T00:00:00+01:00", "-1.5h")', "timeadd", ["2026-01-01T00:00:00+01:00", "-1.5h"]),
    ('concat([1, 2], [], ["a"])', "concat", [[1, 2], [], ["a"]]),
    ('merge({a = 1, b = 2}, {b = 3, c = 4})', "merge", [{"a": 1, "b": 2}, {"b": 3, "c": 4}]),
    ('lookup({a = "x"}, "a", "d")', "lookup", [{"a": "x"}, "a", "d"]),
    ('lookup({a = "x"}, "b", "d")', "lookup", [{"a": "x"}, "b", "d"]),
    ('element(["a", "b", "c"], 4)', "element", [["a", "b", "c"], 4]),
    ('length("héllo")', "length", ["héllo"]),
    ('length([1, [2, 3]])', "length", [[1, [2, 3]]]),
    ('length({a = 1})', "length", [{"a": 1}]),
    ('coalesce("", null, "b", "c")', "coalesce", ["", None, "b", "c"]),
    ('coalesce(null, 2, 3)', "coalesce", [None, 2, 3]),
    ('coalescelist([], ["x"])', "coalescelist", [[], ["x"]]),
    ('contains(["a", "b"], "b")', "contains", [["a", "b"], "b"]),
    ('contains([1, 2], 3)', "contains", [[1, 2], 3]),
    ('keys({b = 1, a = 2})', "keys", [{"b": 1, "a": 2}]),
    ('values({b = 1, a = 2})', "values", [{"b": 1, "a": 2}]),
    ('distinct(["b", "a", "b"])', "distinct", [["b", "a", "b"]]),
    ('flatten([[1, [2]], [], 3])', "flatten", [[[1, [2]], [], 3]]),
    ('reverse([1, 2, 3])', "reverse", [[1, 2, 3]]),
    ('sort(["b", "a", "C", "10", "9"])', "sort", [["b", "a", "C", "10", "9"]]),
    ('slice(["a", "b", "c", "d"], 1, 3)', "slice", [["a", "b", "c", "d"], 1, 3]),
    ('zipmap(["a", "b"], [1, 2])', "zipmap", [["a", "b"], [1, 2]]),
    ('range(3)', "range", [3]),
    ('range(1, 4)', "range", [1, 4]),
    ('range(5, 0, -2)', "range", [5, 0, -2]),
    ('range(0, 1, 0.25)', "range", [0, 1, 0.25]),
    ('compact(["a", "", "b"])', "compact", [["a", "", "b"]]),
    ('chunklist([1, 2, 3, 4, 5], 2)', "chunklist", [[1, 2, 3, 4, 5], 2]),
    ('setunion(["b", "a"], ["c", "a"])', "setunion", [["b", "a"], ["c", "a"]]),
    ('setintersection(["b", "a"], ["a", "c"])', "setintersection", [["b", "a"], ["a", "c"]]),
    ('min(3, 1.5, 2)', "min", [3, 1.5, 2]),
    ('max(3, "7", 2)', "max", [3, "7", 2]),
    ('abs(-3.5)', "abs", [-3.5]),
    ('ceil(1.2)', "ceil", [1.2]),
    ('floor(-1.2)', "floor", [-1.2]),
    ('log(8, 2)', "log", [8, 2]),
    ('pow(2, 10)', "pow", [2, 10]),
    ('pow(4, 0.5)', "pow", [4, 0.5]),
    ('signum(-7)', "signum", [-7]),
    ('parseint("FF", 16)', "parseint", ["FF", 16]),
    ('parseint("-101", 2)', "parseint", ["-101", 2]),
    ('parseint("zZ", 62)', "parseint", ["zZ", 62]),
    ('jsonencode({b = [1, 2.5, "<&>", null, true], a = "é\\n"})', "jsonencode",
     [{"b": [1, 2.5, "<&>", None, True], "a": "é\n"}]),
    ('jsondecode("{\\"a\\": [1, 2.5, null, true, \\"x\\"]}")', "jsondecode",
     ['{"a": [1, 2.5, null, true, "x"]}']),
    ('base64encode("héllo")', "base64encode", ["héllo"]),
    ('base64decode("aMOpbGxv")', "base64decode", ["aMOpbGxv"]),
    ('md5("hello")', "md5", ["hello"]),
    ('sha1("hello")', "sha1", ["hello"]),
    ('sha256("hello")', "sha256", ["hello"]),
    ('sha512("hello")', "sha512", ["hello"]),
    ('urlencode("a b&c=d/é~_.-")', "urlencode", ["a b&c=d/é~_.-"]),
    ('uuidv5("dns", "example.com")', "uuidv5", ["dns", "example.com"]),
    ('uuidv5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "x")', "uuidv5",
     ["6ba7b811-9dad-11d1-80b4-00c04fd430c8", "x"]),
    ('basename("a/b/c.txt")', "basename", ["a/b/c.txt"]),
    ('basename("a/b/")', "basename", ["a/b/"]),
    ('dirname("a/b/c.txt")', "dirname", ["a/b/c.txt"]),
    ('dirname("c.txt")', "dirname", ["c.txt"]),
    ('dirname("/a")', "dirname", ["/a"]),
    ('file("data/hello.txt")', "file", ["data/hello.txt"]),
    ('fileexists("data/hello.txt")', "fileexists", ["data/hello.txt"]),
    ('fileset(".", "data/**/*.txt")', "fileset", [".", "data/**/*.txt"]),
    ('fileset("data", "*")', "fileset", ["data", "*"]),
    ('fileset("data", "**")', "fileset", ["data", "**"]),
    ('fileset("data", "{sub,other}/?.txt")', "fileset", ["data", "{sub,other}/?.txt"]),
    ('fileset(".", "./data/*.txt")', "fileset", [".", "./data/*.txt"]),
    ('fileset("data/sub", "../*.txt")', "fileset", ["data/sub", "../*.txt"]),
    ('fileset("./data/", "/sub/*.txt")', "fileset", ["./data/", "/sub/*.txt"]),
    ('fileset("data", "sub/a.txt")', "fileset", ["data", "sub/a.txt"]),
    ('yamldecode("a: [1, x, true]\\nb: null\\n")', "yamldecode", ["a: [1, x, true]\nb: null\n"]),
    ('csvdecode("a,b\\n1,2\\n")', "csvdecode", ["a,b\n1,2\n"]),
    ('yamlencode({a = "b", c = 1, d = [1, "x", true, null], e = {f = "g h", i = []}, j = {}, '
     'k = "multi\\nline", n = 1.5, o = "", q = [[1, 2], {x = 1, y = [3]}]})', "yamlencode",
     [{"a": "b", "c": 1, "d": [1, "x", True, None], "e": {"f": "g h", "i": []}, "j": {},
       "k": "multi\nline", "n": 1.5, "o": "", "q": [[1, 2], {"x": 1, "y": [3]}]}]),
    ('yamlencode(["a", {b = 1}, "two\\nlines\\n", "three\\n\\n", "tab\\t\\"q\\" \\\\ é \\u0001"])',
     "yamlencode", [["a", {"b": 1}, "two\nlines\n", "three\n\n", 'tab\t"q" \\ é \x01']]),
    ('yamlencode(null)', "yamlencode", [None]),
    ('yamlencode(1.5)', "yamlencode", [1.5]),
    ('yamlencode("x\\ny")', "yamlencode", ["x\ny"]),
]

# Edge cases found while comparing (kept so they stay the same).
CASES += [
    ('format("%v|%v|%v", 1e21, 123456789012, -0.5)', "format", ["%v|%v|%v", 1e21, 123456789012, -0.5]),
    ('coalesce("", 1)', "coalesce", ["", 1]),
    ('sort([10, 9, 1])', "sort", [[10, 9, 1]]),
    ('contains([1, 2], "1")', "contains", [[1, 2], "1"]),
    ('contains(["1"], 1)', "contains", [["1"], 1]),
    ('distinct([1, "1", 1])', "distinct", [[1, "1", 1]]),
    ('flatten([null, [null]])', "flatten", [[None, [None]]]),
    ('title("élan vital ßx ǆa")', "title", ["élan vital ßx ǆa"]),
    ('upper("ǆ ß ﬁ")', "upper", ["ǆ ß ﬁ"]),
    ('lower("İ Σ")', "lower", ["İ Σ"]),
    ('substr("abc", -10, 2)', "substr", ["abc", -10, 2]),
    ('substr("abc", 1, 0)', "substr", ["abc", 1, 0]),
    ('length("e\u0301x")', "length", ["e\u0301x"]),
    ('strrev("e\u0301x")', "strrev", ["e\u0301x"]),
    ('trimspace("\u00a0x\u2003")', "trimspace", ["\u00a0x\u2003"]),
    ('format("%5t|%-6v|%06.2f|% d|%x", true, "ab", -1.5, 5, -255)', "format", ["%5t|%-6v|%06.2f|% d|%x", True, "ab", -1.5, 5, -255]),
    ('format("%.0f %.0f %.1f", 0.5, 1.5, 0.25)', "format", ["%.0f %.0f %.1f", 0.5, 1.5, 0.25]),
    ('format("%s", true)', "format", ["%s", True]),
    ('format("%q", 12)', "format", ["%q", 12]),
    ('format("%05s|%.3q", "ab", "abcdef")', "format", ["%05s|%.3q", "ab", "abcdef"]),
    ('format("%[2]d %d", 1, 2, 3)', "format", ["%[2]d %d", 1, 2, 3]),
    ('format("%v", [])', "format", ["%v", []]),
    ('formatlist("%s", [])', "formatlist", ["%s", []]),
    ('formatlist("x")', "formatlist", ["x"]),
    ('join(",", [1, true])', "join", [",", [1, True]]),
    ('split("", "abc")', "split", ["", "abc"]),
    ('merge({a = 1}, null, {b = [1]})', "merge", [{"a": 1}, None, {"b": [1]}]),
    ('keys({})', "keys", [{}]),
    ('range(0)', "range", [0]),
    ('range(-3)', "range", [-3]),
    ('range(1, 1)', "range", [1, 1]),
    ('max(-1)', "max", [-1]),
    ('pow(2, -1)', "pow", [2, -1]),
    ('log(1, 10)', "log", [1, 10]),
    ('ceil(-0.5)', "ceil", [-0.5]),
    ('abs(-0)', "abs", [0]),
    ('jsonencode(1.0e-7)', "jsonencode", [1.0e-7]),
    ('jsondecode("1e3")', "jsondecode", ["1e3"]),
    ('jsondecode("[1.50, -0, 12345678901234567890]")', "jsondecode", ["[1.50, -0, 12345678901234567890]"]),
    ('base64encode("")', "base64encode", [""]),
    ('urlencode("~!*()\'")', "urlencode", ["~!*()'"]),
    ('chomp("\\r\\r\\n")', "chomp", ["\r\r\n"]),
    ('indent(4, "")', "indent", [4, ""]),
    ('slice([1,2], 2, 2)', "slice", [[1, 2], 2, 2]),
    ('zipmap([], [])', "zipmap", [[], []]),
    ('compact([])', "compact", [[]]),
    ('lookup({a = null}, "a", "d")', "lookup", [{"a": None}, "a", "d"]),
    ('element([1, 2], 1.0)', "element", [[1, 2], 1.0]),
    ('basename("")', "basename", [""]),
    ('basename("/")', "basename", ["/"]),
    ('dirname("")', "dirname", [""]),
    ('dirname("a//b")', "dirname", ["a//b"]),
    ('dirname("/")', "dirname", ["/"]),
    ('dirname("../a/./b")', "dirname", ["../a/./b"]),
    ('fileset(".", "data/*")', "fileset", [".", "data/*"]),
    ('fileset("data", "**/*")', "fileset", ["data", "**/*"]),
    ('fileset("data", "sub/**")', "fileset", ["data", "sub/**"]),
    ('fileset("nope", "*")', "fileset", ["nope", "*"]),
    ('formatdate("DD MMM YYYY hh:mm ZZZ", "2026-02-03T04:05:06.789Z")', "formatdate", ["DD MMM YYYY hh:mm ZZZ", "2026-02-03T04:05:06.789Z"]),
    ('timeadd("2026-01-01T00:00:00Z", "0")', "timeadd", ["2026-01-01T00:00:00Z", "0"]),
    ('timeadd("2026-01-01T00:00:00Z", "1.5s")', "timeadd", ["2026-01-01T00:00:00Z", "1.5s"]),
    ('timeadd("2026-01-01T00:00:00.5Z", "10ms")', "timeadd", ["2026-01-01T00:00:00.5Z", "10ms"]),
    ('csvdecode("a\\n")', "csvdecode", ["a\n"]),
    ('upper(true)', "upper", [True]),
    ('abs("3")', "abs", ["3"]),
    ('abs("1e2")', "abs", ["1e2"]),
    ('concat([1], [["x"]])', "concat", [[1], [["x"]]]),
    ('jsonencode("\\u0008\\u000c\\u2028 \\u0001<")', "jsonencode", ["\b\f\u2028 \u0001<"]),
    ('yamldecode("x: 1.0\\nd: 2020-01-01\\nz: yes\\nl: [a, 2]\\n")', "yamldecode", ["x: 1.0\nd: 2020-01-01\nz: yes\nl: [a, 2]\n"]),
]

CASES += [
    ('substr("abc", 0, -5)', "substr", ["abc", 0, -5]),
    ('compact(["a", 1])', "compact", [["a", 1]]),
    ('zipmap(["a", "a"], [1, 2])', "zipmap", [["a", "a"], [1, 2]]),
    ('format("%5.1q|%-4d|%x", "abc", 7, "255")', "format", ["%5.1q|%-4d|%x", "abc", 7, "255"]),
    ('format("%.3d|%+.1f|% .2e", 7, 2.25, 12345)', "format", ["%.3d|%+.1f|% .2e", 7, 2.25, 12345]),
    ('title("o\'neil mc-d 3rd x2y")', "title", ["o'neil mc-d 3rd x2y"]),
]

CASES += [
    ('cidrhost("10.12.112.0/20", 268)', "cidrhost", ["10.12.112.0/20", 268]),
    ('cidrhost("10.0.0.0/24", -1)', "cidrhost", ["10.0.0.0/24", -1]),
    ('cidrhost("10.1.2.3/16", 5)', "cidrhost", ["10.1.2.3/16", 5]),
    ('cidrhost("fd00:fd12:3456:7890:00a2::/72", 34)', "cidrhost", ["fd00:fd12:3456:7890:00a2::/72", 34]),
    ('cidrnetmask("172.16.0.0/12")', "cidrnetmask", ["172.16.0.0/12"]),
    ('cidrnetmask("fd00::/64")', "cidrnetmask", ["fd00::/64"]),
    ('cidrsubnet("172.16.0.0/12", 4, 2)', "cidrsubnet", ["172.16.0.0/12", 4, 2]),
    ('cidrsubnet("10.1.2.0/24", 4, 15)', "cidrsubnet", ["10.1.2.0/24", 4, 15]),
    ('cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)', "cidrsubnet", ["fd00:fd12:3456:7890::/56", 16, 162]),
    ('cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)', "cidrsubnets", ["10.1.0.0/16", 4, 4, 8, 4]),
    ('cidrsubnets("10.1.0.0/16", 8, 4, 8)', "cidrsubnets", ["10.1.0.0/16", 8, 4, 8]),
    ('cidrsubnets("fd00:fd12:3456:7890::/56", 16, 16, 16, 32)', "cidrsubnets",
     ["fd00:fd12:3456:7890::/56", 16, 16, 16, 32]),
    ('cidrsubnets("10.0.0.0/8")', "cidrsubnets", ["10.0.0.0/8"]),
    ('setproduct(["a", "b"], [1, 2])', "setproduct", [["a", "b"], [1, 2]]),
    ('setproduct(["x"], [])', "setproduct", [["x"], []]),
]

# Calls Packer 1.6.6 rejects; we must reject them too (each needs its own packer run).
ERROR_CASES = [
    ('cidrhost("10.0.0.0/24", 256)', "cidrhost", ["10.0.0.0/24", 256]),
    ('cidrhost("nonsense", 1)', "cidrhost", ["nonsense", 1]),
    ('cidrsubnet("10.0.0.0/30", 4, 0)', "cidrsubnet", ["10.0.0.0/30", 4, 0]),
    ('cidrsubnet("10.0.0.0/16", 2, 4)', "cidrsubnet", ["10.0.0.0/16", 2, 4]),
    ('cidrsubnets("10.0.0.0/30", 1, 1, 1)', "cidrsubnets", ["10.0.0.0/30", 1, 1, 1]),
    ('cidrsubnets("10.0.0.0/30", 3)', "cidrsubnets", ["10.0.0.0/30", 3]),
    ('range(0, 5, 0)', "range", [0, 5, 0]),
    ('range(1025)', "range", [1025]),
    ('chunklist([1], -1)', "chunklist", [[1], -1]),
    ('coalesce("a", [1])', "coalesce", ["a", [1]]),
    ('merge({a = 1}, [1])', "merge", [{"a": 1}, [1]]),
    ('slice([1, 2], 2, 1)', "slice", [[1, 2], 2, 1]),
    ('sort(["a", null])', "sort", [["a", None]]),
    ('split(",", null)', "split", [",", None]),
    ('join(",", ["a", null])', "join", [",", ["a", None]]),
    ('distinct([1, true])', "distinct", [[1, True]]),
    ('coalesce(1, true)', "coalesce", [1, True]),
    ('length(null)', "length", [None]),
    ('length(5)', "length", [5]),
    ('keys("x")', "keys", ["x"]),
    ('min()', "min", []),
    ('jsondecode("NaN")', "jsondecode", ["NaN"]),
    ('uuidv5("nope", "x")', "uuidv5", ["nope", "x"]),
    ('timeadd("2026-01-01T00:00:00Z", "1d")', "timeadd", ["2026-01-01T00:00:00Z", "1d"]),
    ('upper(null)', "upper", [None]),
    ('contains("abc", "a")', "contains", ["abc", "a"]),
    ('flatten("x")', "flatten", ["x"]),
    ('formatlist("%s", "a", ["b"])', "formatlist", ["%s", "a", ["b"]]),
    ('formatdate("MMMMM", "2026-01-01T00:00:00Z")', "formatdate", ["MMMMM", "2026-01-01T00:00:00Z"]),
    ('lower(["x"])', "lower", [["x"]]),
    ('element([], 0)', "element", [[], 0]),
    ('lookup({a = 1}, "b")', "lookup", [{"a": 1}, "b"]),
    ('format("%d", 1.5)', "format", ["%d", 1.5]),
    ('format("%s")', "format", ["%s"]),
    ('formatdate("YYY", "2026-01-01T00:00:00Z")', "formatdate", ["YYY", "2026-01-01T00:00:00Z"]),
    ('formatdate("YYYY", "2026-01-01")', "formatdate", ["YYYY", "2026-01-01"]),
    ('base64decode("!!")', "base64decode", ["!!"]),
    ('zipmap(["a"], [1, 2])', "zipmap", [["a"], [1, 2]]),
    ('file("data/missing.txt")', "file", ["data/missing.txt"]),
    ('parseint("12", 1)', "parseint", ["12", 1]),
    ('parseint("0x10", 16)', "parseint", ["0x10", 16]),
    ('formatdate("YYYY", "1999-12-31t23:59:59z")', "formatdate", ["YYYY", "1999-12-31t23:59:59z"]),
    ('formatdate("YYYY", "1999-12-31T23:59:59")', "formatdate", ["YYYY", "1999-12-31T23:59:59"]),
    ('formatdate("x", "1999-12-31T23:59:59Z")', "formatdate", ["x", "1999-12-31T23:59:59Z"]),
    ('formatdate("\'abc", "1999-12-31T23:59:59Z")', "formatdate", ["'abc", "1999-12-31T23:59:59Z"]),
    ('coalescelist([], [])', "coalescelist", [[], []]),
    ('abs(" 3")', "abs", [" 3"]),
]


def _packer() -> str:
    exe = shutil.which("packer")
    if exe is None:
        pytest.fail("packer is not installed; these tests compare against Packer 1.6.6: "
                    "apt-get install packer")
    return exe


def _make_tree(root: Path) -> None:
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "other").mkdir()
    (root / "data" / "hello.txt").write_text("héllo\nworld\n")
    (root / "data" / "top.md").write_text("x")
    (root / "data" / "sub" / "a.txt").write_text("a")
    (root / "data" / "sub" / "bb.txt").write_text("b")
    (root / "data" / "other" / "c.txt").write_text("c")
    (root / "data" / "sub" / "deeper").mkdir()
    (root / "data" / "sub" / "deeper" / "d.txt").write_text("d")


def _template(exprs: dict[str, str], out: Path) -> str:
    body = "\n".join(f"    {k} = {v}" for k, v in exprs.items())
    return f'''source "null" "x" {{
  communicator = "none"
}}
locals {{
  r = {{
{body}
  }}
}}
build {{
  sources = ["source.null.x"]
  provisioner "shell-local" {{
    environment_vars = ["OUT=${{base64encode(jsonencode(local.r))}}"]
    inline           = ["echo \\"$OUT\\" | base64 -d > {out}"]
  }}
}}
'''


def _run_packer(root: Path, exprs: dict[str, str]) -> subprocess.CompletedProcess:
    out = root / "out.json"
    (root / "t.pkr.hcl").write_text(_template(exprs, out))
    return subprocess.run([_packer(), "build", "-color=false", "t.pkr.hcl"], cwd=root,
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(root),
                               "CHECKPOINT_DISABLE": "1", "PACKER_LOG": ""})


@pytest.fixture(scope="module")
def packer_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("pk")
    _make_tree(root)
    exprs = {f"c{i}": expr for i, (expr, _, _) in enumerate(CASES)}
    proc = _run_packer(root, exprs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, json.loads((root / "out.json").read_text())


def _ours(root: Path, name: str, args: list):
    value = call_function(name, args, FunctionContext(base_dir=str(root)))
    return json.loads(json_encode(value))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0][:60] for c in CASES])
def test_same_result_as_packer(packer_results, index):
    root, results = packer_results
    expr, name, args = CASES[index]
    assert _ours(root, name, args) == results[f"c{index}"], expr


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_same_rejections_as_packer(tmp_path, case):
    expr, name, args = case
    _make_tree(tmp_path)
    proc = _run_packer(tmp_path, {"x": expr})
    assert proc.returncode != 0, f"packer accepted {expr}"
    assert "Error" in proc.stdout + proc.stderr
    with pytest.raises(FunctionError) as exc:
        call_function(name, args, FunctionContext(base_dir=str(tmp_path)))
    assert exc.value.message.startswith(f"{name}: ")


def test_timestamp_has_packers_shape(tmp_path):
    proc = _run_packer(tmp_path, {"t": "timestamp()"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = json.loads((tmp_path / "out.json").read_text())["t"]
    ours = call_function("timestamp", [], FunctionContext(base_dir=str(tmp_path)))
    assert len(ours) == len(theirs) == len("2026-11-25T18:00:00Z")
    assert ours[:13] == theirs[:13] or ours[:10] == theirs[:10]  # same day and hour, modulo a tick
    assert ours.endswith("Z") and theirs.endswith("Z")


# --- random Unicode text through the string functions, in one packer run --------------

_ALPHABET = (
    "abcXYZ019 _-.,'!?"  # no tab: cty NFC-normalises JSON text, and "\t" + U+0308 -> "\ẗ"
    "àéîõüßÿÀÉÎÕÜŸıİĳŉſǅǆǰȺɐ"  # Latin-1 and Latin Extended, special case mappings
    "αβγΣσςΐᾳΆΩ"  # Greek, with final sigma and iota subscript
    "жЖёЁѢ"  # Cyrillic
    "\u0301\u0308\u0323"  # combining marks
    "\u00a0\u2003\u3000\u2028"  # Unicode spaces
    "ﬁﬀ丽中文"  # ligatures, compatibility ideographs, CJK
    "\u200d\U0001F600\U0001F44D\u2764\ufe0f"  # emoji, joiner, variation selector
)


def _hcl_string(s: str) -> str:
    out = ['"']
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or 0x2028 <= ord(c) <= 0x2029:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    text = "".join(out) + '"'
    return text.replace("${", "$${").replace("%{", "%%{")


def test_random_unicode_text_matches_packer(tmp_path):
    import random  # noqa: PLC0415

    rng = random.Random(20261125)
    texts = ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12))) for _ in range(60)]
    calls = []
    for t in texts:
        q = _hcl_string(t)
        calls += [(f"upper({q})", "upper", [t]), (f"lower({q})", "lower", [t]),
                  (f"title({q})", "title", [t]), (f"trimspace({q})", "trimspace", [t]),
                  (f"length({q})", "length", [t]), (f"substr({q}, 1, 3)", "substr", [t, 1, 3]),
                  (f"strrev({q})", "strrev", [t]), (f"format(\"%5.2s|\", {q})", "format", ["%5.2s|", t]),
                  (f"jsonencode({q})", "jsonencode", [t]), (f"md5({q})", "md5", [t]),
                  (f"split(\" \", {q})", "split", [" ", t])]
    proc = _run_packer(tmp_path, {f"c{i}": expr for i, (expr, _, _) in enumerate(calls)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = json.loads((tmp_path / "out.json").read_text())
    mismatches = [(expr, _ours(tmp_path, name, args), theirs[f"c{i}"])
                  for i, (expr, name, args) in enumerate(calls)
                  if _ours(tmp_path, name, args) != theirs[f"c{i}"]]
    assert not mismatches, "\n".join(f"{e}: ours {o!r}, packer {t!r}" for e, o, t in mismatches[:20])


def test_random_numbers_format_like_packer(tmp_path):
    """Number formatting (%v %f %e %g %d %x, tostring, jsonencode) on random magnitudes."""
    import random  # noqa: PLC0415

    rng = random.Random(7)
    numbers: list = []
    for _ in range(40):
        kind = rng.random()
        if kind < 0.3:
            numbers.append(rng.randint(-10**rng.randint(1, 18), 10**rng.randint(1, 18)))
        else:
            mantissa = round(rng.uniform(-10, 10), rng.randint(0, 6))
            numbers.append(float(f"{mantissa}e{rng.randint(-8, 12)}"))
    calls = []
    for n in numbers:
        lit = repr(n)
        fl_verbs = "%v|%f|%.2f|%e|%.3e|%g|%.4g|%G|%10.3f|%-12e|%+.1f"
        calls.append((f'format("{fl_verbs}", {", ".join([lit] * 11)})', "format", [fl_verbs] + [n] * 11))
        calls.append((f"jsonencode({lit})", "jsonencode", [n]))
        calls.append((f'format("%s", {lit})', "format", ["%s", n]))
        if isinstance(n, int) or float(n).is_integer():
            int_verbs = "%d|%x|%X|%o|%b|%08d|%+d"
            calls.append((f'format("{int_verbs}", {", ".join([lit] * 7)})', "format", [int_verbs] + [n] * 7))
    proc = _run_packer(tmp_path, {f"c{i}": expr for i, (expr, _, _) in enumerate(calls)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = json.loads((tmp_path / "out.json").read_text())
    mismatches = [(expr, _ours(tmp_path, name, args), theirs[f"c{i}"])
                  for i, (expr, name, args) in enumerate(calls)
                  if _ours(tmp_path, name, args) != theirs[f"c{i}"]]
    assert not mismatches, "\n".join(f"{e}: ours {o!r}, packer {t!r}" for e, o, t in mismatches[:20])


def test_random_times_format_like_packer(tmp_path):
    """formatdate with every verb, and timeadd, on random timestamps and offsets."""
    import random  # noqa: PLC0415

    rng = random.Random(3)
    # (a quoted literal at the very end is dropped by Packer 1.6.6's cty; see docs)
    spec = "YYYY YY MMMM MMM MM M DD D EEEE EEE 'q''t' hh h HH H AA aa mm m ss s ZZZZZ ZZZZ ZZZ Z"
    calls = []
    for _ in range(30):
        off = rng.choice(["Z", "+00:00", "+05:30", "-08:00", "+14:00", "-00:45"])
        ts = (f"{rng.randint(300, 9600):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
              f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
              f"{rng.choice(['', '.5', '.123456789'])}{off}")
        dur = rng.choice(["1h", "-90m", "36h0m1s", "1.5h", "-0.5s", "2562047h", "300ms", "0"])
        calls.append((f'formatdate("{spec.replace(chr(34), "")}", "{ts}")', "formatdate", [spec, ts]))
        calls.append((f'timeadd("{ts}", "{dur}")', "timeadd", [ts, dur]))
    proc = _run_packer(tmp_path, {f"c{i}": expr for i, (expr, _, _) in enumerate(calls)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = json.loads((tmp_path / "out.json").read_text())
    mismatches = [(expr, _ours(tmp_path, name, args), theirs[f"c{i}"])
                  for i, (expr, name, args) in enumerate(calls)
                  if _ours(tmp_path, name, args) != theirs[f"c{i}"]]
    assert not mismatches, "\n".join(f"{e}: ours {o!r}, packer {t!r}" for e, o, t in mismatches[:20])
