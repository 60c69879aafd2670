"""Hand-made input sets for hard cases, shared by the unit (oracle) and integration (model) tests."""


def evening_withdrawal_inputs():
    """A quiet book and a −250k withdrawal at 20:30 New York on Monday, after the 16:00 close.

    2M deposited on Friday; Monday 10:00 BUY 10,000 XYZ @ 100 (cash 1M). Marks: Mon 16:00 100,
    Mon 20:45 100.1 (a print after the close and after the withdrawal), Tue 10:00 100.2, Tue 16:00 100.5.
    """
    fills = [("2026-01-05T10:00:00-05:00", "XYZ", "BUY", 10_000, 100.0, 0.0, "alpha")]
    flows = [("2026-01-02T15:00:00Z", 2_000_000.0),
             ("2026-01-05T20:30:00-05:00", -250_000.0)]          # = 2026-01-06 01:30Z
    marks = [("2026-01-05T16:00:00-05:00", "XYZ", 100.0), ("2026-01-05T20:45:00-05:00", "XYZ", 100.1),
             ("2026-01-06T10:00:00-05:00", "XYZ", 100.2), ("2026-01-06T16:00:00-05:00", "XYZ", 100.5)]
    return fills, flows, marks
