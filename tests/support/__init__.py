"""Test helpers shared by unit and integration tests (servers started and stopped by pid)."""
