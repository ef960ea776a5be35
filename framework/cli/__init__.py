"""The ``swarm`` command: parses arguments and calls the stages in order.

The only place that turns a ``SwarmError`` into a message and an exit code; nothing imports it.
"""
