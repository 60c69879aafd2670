"""Demo inputs for ``exo demo``: a realistic book whose last session trips the guards (SPEC §2 formats).

Why designed rather than random: the demo must tell the same story every time — the last session
falls through the −0.8 % intraday stop, the previous month ended below −3 % MTD, VaR95 sits in the
warning band and one name is above 15 % of NAV. So the *book's* returns are designed first (pure
arithmetic on a return series, calibrated so VaR95 lands at 80 % of the $2M limit), and the prices
are then solved for: at every mark time each symbol gets its own noise (sector + idiosyncratic)
plus a common move ``c·sign(position)`` whose size is solved so the book's NAV is exactly the
designed one. Fills, commissions and flows are real inputs like any other; the solve sees them.

Everything is deterministic from ``seed``. ``write_demo_inputs`` returns the story (ISO dates,
numbers as the simulation measured them — the same NAV arithmetic as SPEC §3) so tests and the demo
printout can say what to expect.
"""
from mech_exo.demo_data.calendar import session_calendar, spell, us_market_holidays  # noqa: F401
from mech_exo.demo_data.story import write_demo_inputs  # noqa: F401
