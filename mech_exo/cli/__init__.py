"""The `exo` command line: the on-call run-book's commands (shared/RUNBOOK_COMMANDS.md)."""
