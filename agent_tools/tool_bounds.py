"""How much one tool call may ask for: the bounds the MCP tools publish in their schemas and the desk checks again.

Kept apart from the code that enforces them (`point_in_time`, `research`) so the tool server can describe its tools
without importing the market data stack (pandas): `serve-tools` answers `list_tools` before its data is loaded.
"""

MAX_HISTORY_DAYS = 60  # completed sessions one get_history call returns at most
MAX_PRICE_SYMBOLS = 30  # symbols one get_price call may ask for
