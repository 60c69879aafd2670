"""The risk dashboard (Dash): ``create_app(home)`` and ``serve(home, host, port)`` live in
``mech_exo.dashboard.app``; they are re-exported lazily here so importing the package stays cheap
(and ``python -m mech_exo.dashboard.app`` does not import the module twice)."""
from __future__ import annotations

__all__ = ["create_app", "serve", "read_pid_file", "pid_file"]


def __getattr__(name: str):
    if name in __all__:
        from mech_exo.dashboard import app

        return getattr(app, name)
    raise AttributeError(f"module 'mech_exo.dashboard' has no attribute {name!r}")
