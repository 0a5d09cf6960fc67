"""Baton: the GitHub App that hands issues and PR commands to coding agents."""
