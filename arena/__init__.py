"""The arena: config -> run loop -> session -> model back ends -> tools, plus live triggers."""
