"""The training panel: settings, data picker, live loss curves, the runs list."""
