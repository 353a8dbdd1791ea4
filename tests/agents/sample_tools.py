"""Tools defined in a module of their own, as users write them (the save/load tests read this
file's source)."""

import json
import textwrap

from tfhf.agents import Tool, tool

SEPARATOR = " "


def _reverse(text):
    return text[::-1]


@tool
def word_count(text: str) -> int:
    """Counts the words of a text.

    Args:
        text: the text whose words are counted
    """
    return len(text.split(SEPARATOR))


@tool
def shorten(text: str, width: int = 20) -> str:
    """Shortens a text to a given width, with an ellipsis.

    Args:
        text: the text to shorten
        width: the largest number of characters to keep
    """
    return textwrap.shorten(text, width=width, placeholder="...")


class ReverseTool(Tool):
    name = "reverser"
    description = "This is a tool that reverses a text. It returns the reversed text."
    inputs = {"text": {"type": "text", "description": "the text to reverse"}}
    output_type = "text"

    def forward(self, text):
        return _reverse(text)


class JsonTool(Tool):
    name = "to_json"
    description = "This is a tool that writes a value as JSON text."
    inputs = {"value": {"type": "any", "description": "the value"}}
    output_type = "text"

    def forward(self, value):
        return json.dumps(value)


@tool
def failing_tool(text: str) -> str:
    """Always fails.

    Args:
        text: ignored
    """
    raise ValueError("the service is down")
