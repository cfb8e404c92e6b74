"""What the amazon-ebs option files share: where findings say they are, tag and filter blocks."""

from __future__ import annotations

from .._model import MAP_STRING, STRING, BlockSpec, Option, Schema

WHERE = "source amazon-ebs"

KEY_VALUE = Schema(
    (
        Option("key", STRING, doc="Tag key."),
        Option("value", STRING, doc="Tag value."),
    ),
    doc="One tag, for keys a map cannot hold.",
)
NAME_VALUE = Schema(
    (
        Option("name", STRING, doc="Filter or tag name."),
        Option("value", STRING, doc="Its value."),
    )
)


def filter_schema(extra: tuple[Option, ...] = ()) -> Schema:
    return Schema(
        (Option("filters", MAP_STRING, doc="EC2 Describe* filters, name -> value."),) + extra,
        blocks=(BlockSpec("filter", NAME_VALUE, repeated=True, doc="One filter, as a block."),),
    )
