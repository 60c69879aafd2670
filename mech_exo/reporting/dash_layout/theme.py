"""Colours and number formats shared by the figures and the page (one place to keep them consistent)."""
from __future__ import annotations

from mech_exo import bands

GREEN, YELLOW, RED, GREY = "#1a9850", "#e6a100", "#d73027", "#8a94a6"
NEUTRAL = "#3b4a6b"   # a loss inside the bands (bands.NEUTRAL): readable, not green, not alarming
LEVEL_COLOURS = {"green": GREEN, "yellow": YELLOW, "red": RED, "unknown": GREY, "neutral": NEUTRAL}
VAR_LEVEL_TO_LIGHT = bands.VAR_LIGHT  # var_daily.level → light: defined with the bands
NAVY, INK, MUTED, PAPER, BG, LINE = "#1f2a44", "#1d2433", "#5b6578", "#ffffff", "#f3f5f9", "#e3e7ee"
VAR95_COLOUR, VAR99_COLOUR = "#2b6cb0", "#6b46c1"
LONG_COLOUR, SHORT_COLOUR = "#2b6cb0", "#dd6b20"
# green → yellow → red (low → high VaR contribution)
HEAT_SCALE = [[0.0, "#1a9850"], [0.5, "#fee08b"], [1.0, "#d73027"]]
FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
MINUS = "\u2212"


def _sign(x: float) -> str:
    return MINUS if x < 0 else ""


def usd(x: float | None, decimals: int = 0) -> str:
    """$1,234,567 (typographic minus for losses)."""
    if x is None:
        return "—"
    return f"{_sign(x)}${abs(x):,.{decimals}f}"


def usd_short(x: float | None) -> str:
    """$29.9k / $2.00M — for axis labels and heatmap cells."""
    if x is None:
        return "—"
    a = abs(x)
    if a >= 1e6:
        body = f"{a / 1e6:.2f}M"
    elif a >= 1e3:
        body = f"{a / 1e3:.1f}k"
    else:
        body = f"{a:.0f}"
    return f"{_sign(x)}${body}"


def pct(fraction: float | None, decimals: int = 2, signed: bool = True) -> str:
    """A fraction as percent: −0.0025 → "−0.25 %"."""
    if fraction is None:
        return "—"
    v = fraction * 100
    if round(v, decimals) == 0:
        v = 0.0
    plus = "+" if signed and v > 0 else ""
    return f"{plus}{_sign(v)}{abs(v):.{decimals}f} %"


def num(x: float | None, decimals: int = 0) -> str:
    if x is None:
        return "—"
    return f"{_sign(x)}{abs(x):,.{decimals}f}"
