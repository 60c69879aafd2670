"""Read side: everything that answers questions from the published snapshot (CLI, dashboard)."""
