"""Training losses, as functions of network outputs and measurements (no model or data code inside)."""
