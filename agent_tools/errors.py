"""Refusals the tools send back to the model as-is: nothing is written when one is raised."""

from __future__ import annotations


class ToolInputError(ValueError):
    """A tool call the desk refuses; the message goes to the model as-is and nothing is written."""


class TradeRejected(ToolInputError):
    """An order a risk rule or the broker refused, or that did not fill; the message says what would be allowed."""
