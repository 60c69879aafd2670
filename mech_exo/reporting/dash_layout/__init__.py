"""Dash layouts of the risk dashboard (``mech_exo.dashboard``): pure functions of the query engine's
dicts, so the same numbers feed the page, the JSON API and the tests."""
