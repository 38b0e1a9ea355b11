"""Model quality: the selected run's metrics and every run compared."""
