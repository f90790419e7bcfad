"""The ``citebot`` command line: ``main`` (entry point and parser), one module per command
group (``index_commands``, ``question_commands``, ``admin_commands``), their shared ``context``,
the interactive ``console`` and the terminal ``render``ing of answers."""
