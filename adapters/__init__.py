"""Coding-agent harnesses behind one AgentAdapter protocol, and the one subprocess runner."""
