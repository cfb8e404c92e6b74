"""Provisioners: ``shell``, ``file``, ``shell-local``, ``breakpoint``."""

from __future__ import annotations

import re
import sys
from typing import Sequence

from ._model import (
    ANY,
    BOOL,
    DURATION,
    LIST_NUMBER,
    LIST_STRING,
    MAP_STRING,
    NUMBER,
    STRING,
    Body,
    Finding,
    Option,
    Schema,
    at_least_one,
    error,
    exactly_one,
    merge,
    warning,
)
from ._types import is_set, is_true

# Accepted by every provisioner block (Packer handles them in the core, not the plugin).
COMMON = (
    Option("only", LIST_STRING, doc="Run only for these sources (`amazon-ebs.web`)."),
    Option("except", LIST_STRING, doc="Do not run for these sources."),
    Option("pause_before", DURATION, doc="Wait this long before running."),
    Option("max_retries", NUMBER, default=0, doc="Retry a failed run this many times."),
    Option("timeout", DURATION, doc="Fail the run if it takes longer."),
    Option("override", ANY, doc='Per-source option overrides: { "amazon-ebs.web" = { ... } }.'),
    Option("name", STRING, doc="Name shown in the output."),
)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# The operating systems Packer's shell-local accepts in `only_on`.
GOOS = ("darwin", "freebsd", "linux", "openbsd", "solaris", "windows")


def _check_environment(body: Body, environ):
    """`environment_vars` entries are KEY=VALUE; `env` keys are variable names."""
    values = body.attrs.get("environment_vars")
    if isinstance(values, list):
        for i, item in enumerate(values):
            if isinstance(item, str) and ("=" not in item or not item.split("=", 1)[0]):
                yield error(
                    'Invalid value for "environment_vars"',
                    f"Environment variable not in format 'key=value': \"{item}\".",
                    ("environment_vars", i),
                )
            elif isinstance(item, str) and not _ENV_NAME.match(item.split("=", 1)[0]):
                yield error(
                    'Invalid key in "environment_vars"',
                    f'"{item.split("=", 1)[0]}" is not an environment variable name (letters, digits and '
                    "underscores, not starting with a digit); it would reach a shell as code.",
                    ("environment_vars", i),
                )
    env = body.attrs.get("env")
    if isinstance(env, dict):
        for key in env:
            if not _ENV_NAME.match(str(key)):
                yield error('Invalid key in "env"', f'"{key}" is not an environment variable name.', ("env", key))


SHELL = Schema(
    merge(
        (
            Option("inline", LIST_STRING, doc="Commands to run, one shell line each, in one script."),
            Option("script", STRING, doc="Local script to upload and run.", local_path=True),
            Option("scripts", LIST_STRING, doc="Local scripts to upload and run, in order.", local_path=True),
            Option("environment_vars", LIST_STRING, doc='Environment of the scripts, as "KEY=value" strings.'),
            Option("env", MAP_STRING, doc="Environment of the scripts, as a map."),
            Option(
                "execute_command",
                STRING,
                default="chmod +x {{.Path}}; {{.Vars}} {{.Path}}",
                doc="How the uploaded script is run.",
            ),
            Option("inline_shebang", STRING, default="/bin/sh -e", doc="Shebang of the script made from inline."),
            Option("expect_disconnect", BOOL, default=False, doc="A lost connection (e.g. a reboot) is not an error."),
            Option("valid_exit_codes", LIST_NUMBER, default=[0], doc="Exit codes that mean success."),
            Option("remote_folder", STRING, default="/tmp", doc="Remote folder scripts are uploaded to."),
            Option("remote_file", STRING, doc="Remote file name of the script (default: script_NNNN.sh)."),
            Option("remote_path", STRING, doc="Full remote path of the script (default: remote_folder/remote_file)."),
            Option("skip_clean", BOOL, default=False, doc="Leave the uploaded script on the machine."),
            Option("binary", BOOL, default=False, doc="The script is a binary: upload it unchanged."),
            Option(
                "start_retry_timeout",
                DURATION,
                default="5m",
                doc="How long to retry starting the command (e.g. during a reboot).",
            ),
            Option("pause_after", DURATION, doc="Wait this long after the scripts ran."),
            Option(
                "use_env_var_file",
                BOOL,
                default=False,
                doc="Pass the environment in a sourced file instead of the command line.",
            ),
            Option(
                "env_var_format", STRING, doc="printf format of one environment assignment (default: \"%s='%s' \")."
            ),
        ),
        COMMON,
    ),
    groups=(exactly_one("inline", "script", "scripts"),),
    checks=(_check_environment,),
    notes=("Each `environment_vars` entry is `KEY=value`; `env` keys are variable names.",),
    doc="Runs shell commands or scripts on the machine being built "
    "(for `local`: in the image root, with $IMAGE_ROOT set).",
)


def _check_file(body: Body, environ):
    # Packer merges `source` into `sources`, so the two may be combined; `content` is the
    # alternative to both.
    a = body.attrs
    if is_set(a.get("content")):
        for name in ("source", "sources"):
            if is_set(a.get(name)):
                yield error(
                    f'Conflicting arguments "{name}" and "content" in provisioner file',
                    "Write a file either from content or from source(s), not both.",
                    ("content",),
                )
                break
        if a.get("direction") == "download":
            yield error('"content" cannot be downloaded', 'content only works with direction = "upload".', ("content",))


# A download's sources are on the machine being built; a generated source appears during the build.
_NOT_LOCAL = (("direction", "download"), ("generated", True))

FILE = Schema(
    merge(
        (
            Option(
                "source",
                STRING,
                doc="Local file or folder to upload (a trailing / uploads the folder's contents).",
                local_path=True,
                unless=_NOT_LOCAL,
            ),
            Option(
                "sources",
                LIST_STRING,
                doc="Several local files to upload into destination.",
                local_path=True,
                unless=_NOT_LOCAL,
            ),
            Option("content", STRING, doc="Text to write to destination."),
            Option(
                "destination", STRING, required=True, doc="Path on the machine (for `local`: inside the image root)."
            ),
            Option(
                "direction",
                STRING,
                default="upload",
                choices=("upload", "download"),
                doc="upload to the machine, or download from it.",
            ),
            Option(
                "generated",
                BOOL,
                default=False,
                doc="The source is created during the build: do not check that it exists.",
            ),
        ),
        COMMON,
    ),
    groups=(at_least_one("source", "sources", "content"),),
    checks=(_check_file,),
    notes=(
        "`source` and `sources` may be combined (Packer merges them); "
        '`content` excludes both and needs `direction = "upload"`.',
    ),
    doc="Copies files to (or from) the machine being built.",
)

SHELL_LOCAL_OPTIONS = (
    Option("command", STRING, doc="One command to run on the machine running the build."),
    Option("inline", LIST_STRING, doc="Commands to run, one shell line each, in one script."),
    Option("script", STRING, doc="Local script to run.", local_path=True),
    Option("scripts", LIST_STRING, doc="Local scripts to run, in order.", local_path=True),
    Option("environment_vars", LIST_STRING, doc='Environment, as "KEY=value" strings.'),
    Option("env", MAP_STRING, doc="Environment, as a map."),
    Option(
        "execute_command",
        LIST_STRING,
        default=["/bin/sh", "-c", "{{.Vars}} {{.Script}}"],
        doc="How the script is run, as a list of arguments.",
    ),
    Option("inline_shebang", STRING, default="/bin/sh -e", doc="Shebang of the script made from inline."),
    Option(
        "only_on",
        LIST_STRING,
        choices=GOOS,
        doc="Run only on these operating systems (Go names: linux, darwin, windows...).",
    ),
    Option("use_linux_pathing", BOOL, default=False, doc="On Windows: pass WSL (Linux) paths to the script."),
    Option("valid_exit_codes", LIST_NUMBER, default=[0], doc="Exit codes that mean success."),
    Option("env_var_format", STRING, doc="printf format of one environment assignment."),
    Option("tempfile_extension", STRING, doc="Extension of the temporary script file."),
)


def check_shell_local(body: Body, environ):
    a = body.attrs
    if is_true(a.get("use_linux_pathing")):
        if sys.platform != "win32":
            yield error(
                '"use_linux_pathing" only works on Windows',
                "It turns Windows paths into paths of the Windows Subsystem for Linux; "
                "this build does not run on Windows.",
                ("use_linux_pathing",),
            )
            return
        for name in ("command", "inline"):
            if is_set(a.get(name)):
                yield error(
                    f'"{name}" cannot be used with "use_linux_pathing"',
                    "Packer is unable to use the command and inline features with the Windows Subsystem "
                    "for Linux; use script or scripts instead.",
                    (name,),
                )


SHELL_LOCAL_NOTES = (
    "Each `environment_vars` entry is `KEY=value`; `env` keys are variable names.",
    "`use_linux_pathing = true` works only on Windows, and only with `script` or `scripts`.",
)


def shell_local_schema(common: tuple[Option, ...], doc: str) -> Schema:
    """`shell-local`, as a provisioner and as a post-processor: the same options and checks;
    only the options every block of that kind takes (`common`) and the doc differ."""
    return Schema(
        merge(SHELL_LOCAL_OPTIONS, common),
        groups=(exactly_one("command", "inline", "script", "scripts"),),
        checks=(_check_environment, check_shell_local),
        notes=SHELL_LOCAL_NOTES,
        doc=doc,
    )


SHELL_LOCAL = shell_local_schema(COMMON, "Runs commands on the machine that runs `release build`.")

BREAKPOINT = Schema(
    merge(
        (
            Option("disable", BOOL, default=False, doc="Skip this breakpoint."),
            Option("note", STRING, doc="Text shown when the build pauses."),
        ),
        COMMON,
    ),
    doc="Pauses the build until Enter is pressed (for debugging).",
)

SCHEMAS = {"shell": SHELL, "file": FILE, "shell-local": SHELL_LOCAL, "breakpoint": BREAKPOINT}


def check_provisioner_sequence(provisioners: Sequence[tuple[str, Body]]) -> list[tuple[int, Finding]]:
    """Rules across the provisioners of one build, in order: (index, finding) pairs.

    A ``shell`` provisioner with ``expect_disconnect = true`` usually reboots the machine;
    the next provisioner should wait (``pause_before``) or it may run before the reboot.
    """
    out: list[tuple[int, Finding]] = []
    for i, (type_name, body) in enumerate(provisioners[:-1]):
        if type_name != "shell" or not is_true(body.attrs.get("expect_disconnect")):
            continue
        next_type, next_body = provisioners[i + 1]
        if next_type in ("shell-local", "breakpoint"):
            continue
        if not is_set(next_body.attrs.get("pause_before")):
            out.append(
                (
                    i + 1,
                    warning(
                        f"provisioner {next_type} may run before the reboot",
                        'The provisioner before it sets expect_disconnect = true; add pause_before = "30s" '
                        "(or more) so this one starts after the machine is back.",
                        (),
                    ),
                )
            )
    return out
