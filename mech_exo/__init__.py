"""Mech-Exo risk operations: turns fills and marks into NAV/P&L/drawdown/VaR and halts trading when limits break."""

__version__ = "0.1.0"
