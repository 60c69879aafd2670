"""Ingest assets: the inputs of the trading engine and the market feed, validated and landed."""
