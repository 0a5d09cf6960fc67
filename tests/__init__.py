"""Baton test suite; `python -m tests` installs what the suite needs and runs it all."""
