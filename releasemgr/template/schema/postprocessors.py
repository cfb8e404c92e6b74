"""Post-processors: ``manifest``, ``checksum``, ``compress``, ``shell-local``, ``vagrant``."""

from __future__ import annotations

from ._model import BOOL, LIST_STRING, MAP_STRING, NUMBER, STRING, Body, Option, Schema, merge, warning
from .provisioners import shell_local_schema

# Accepted by every post-processor block.
COMMON = (
    Option("only", LIST_STRING, doc="Run only for these sources."),
    Option("except", LIST_STRING, doc="Do not run for these sources."),
    Option("name", STRING, doc="Name shown in the output."),
    Option("keep_input_artifact", BOOL, default=False, doc="Keep the artifact this post-processor received."),
)

VAGRANT_PROVIDERS = (
    "aws", "azure", "digitalocean", "docker", "google", "hyperv", "libvirt", "lxc", "parallels",
    "scaleway", "virtualbox", "vmware",
)  # fmt: skip
CHECKSUM_TYPES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


def _level_check(low: int, high: int, where: str):
    def check(body: Body, environ):
        level = body.attrs.get("compression_level")
        if isinstance(level, str):
            try:
                level = float(level)
            except ValueError:
                return
        if isinstance(level, (int, float)) and not isinstance(level, bool) and not low <= level <= high:
            used = low if level < low else high
            yield warning(
                f'"compression_level" out of range in {where}',
                f"compression_level goes from {low} to {high}; {level:g} is treated as {used}, as Packer does.",
                ("compression_level",),
            )

    return check


MANIFEST = Schema(
    merge(
        (
            Option(
                "output",
                STRING,
                default="packer-manifest.json",
                doc="File the manifest is written to (builds are appended).",
            ),
            Option("strip_path", BOOL, default=False, doc="Record file names without their folders."),
            Option("strip_time", BOOL, default=False, doc="Leave out build_time (for reproducible manifests)."),
            Option("custom_data", MAP_STRING, doc="Extra key/value data recorded with each build."),
        ),
        COMMON,
    ),
    doc="Writes Packer's JSON manifest of the artifacts.",
)

CHECKSUM = Schema(
    merge(
        (
            Option(
                "checksum_types", LIST_STRING, default=["md5"], choices=CHECKSUM_TYPES, doc="Hash functions to use."
            ),
            Option(
                "output",
                STRING,
                default="packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum",
                doc="Checksum file path.",
            ),
        ),
        COMMON,
    ),
    doc="Writes checksum files of the artifact's files.",
)

COMPRESS = Schema(
    merge(
        (
            Option(
                "output",
                STRING,
                default="packer_{{.BuildName}}_{{.BuilderType}}.tar.gz",
                doc="Archive path; its extension picks the format unless format is set.",
            ),
            Option(
                "format", STRING, doc="Archive format (tar, tar.gz, tgz, zip, gz, lz4, xz, bgzf); default: from output."
            ),
            Option("compression_level", NUMBER, default=6, doc="0 (none) to 9 (best); -1 for the format's default."),
        ),
        COMMON,
    ),
    checks=(_level_check(-1, 9, "post-processor compress"),),
    doc="Compresses the artifact's files into one archive.",
)

SHELL_LOCAL = shell_local_schema(
    COMMON, "Runs commands on the machine that runs `release build`, after the artifact exists."
)

VAGRANT = Schema(
    merge(
        (
            Option("output", STRING, default="packer_{{ .BuildName }}_{{.Provider}}.box", doc="Path of the .box file."),
            Option("compression_level", NUMBER, default=6, doc="0 (none) to 9 (best)."),
            Option("include", LIST_STRING, doc="Extra files to put in the box."),
            Option(
                "vagrantfile_template",
                STRING,
                doc="Vagrantfile template to put in the box.",
                local_path=True,
                unless=(("vagrantfile_template_generated", True),),
            ),
            Option(
                "vagrantfile_template_generated",
                BOOL,
                default=False,
                doc="The template is created during the build: do not check that it exists.",
            ),
            Option(
                "provider_override",
                STRING,
                choices=VAGRANT_PROVIDERS,
                doc="Vagrant provider to record instead of the one the builder implies.",
            ),
            Option("architecture", STRING, doc="Architecture recorded in the box metadata (e.g. amd64, arm64)."),
        ),
        COMMON,
    ),
    checks=(_level_check(0, 9, "post-processor vagrant"),),
    doc="Turns the artifact into a Vagrant box (for AMIs: a box holding the region -> AMI map).",
)

SCHEMAS = {
    "manifest": MANIFEST,
    "checksum": CHECKSUM,
    "compress": COMPRESS,
    "shell-local": SHELL_LOCAL,
    "vagrant": VAGRANT,
}
