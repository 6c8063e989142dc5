"""Monitoring: drift between a model's training window and the month it scores, the current
model's live performance month by month, and the use case's policy acting on both."""
