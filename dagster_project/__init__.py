"""Dagster code location for Mech-Exo risk ops (`dagster dev -m dagster_project.definitions`)."""
