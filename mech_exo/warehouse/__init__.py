"""The warehouse: dbt builds ``data/warehouse/build.duckdb`` (the one writer), ``publish`` turns a
finished build into the read-only snapshot ``data/analytics.duckdb`` every reader opens."""


class PipelineError(RuntimeError):
    """A step failed; the message says which step and why (one line, for the on-call)."""
