"""Server settings and the .agents.yml configuration language."""
