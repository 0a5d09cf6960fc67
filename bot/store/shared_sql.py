"""SQL text both stores run as it is (SQLite's `?` placeholders; PostgreSQL's store converts)."""

from __future__ import annotations

# The runs of repositories an installation lost: named ones, or all of an account's (`owner/*`).
LOST_BY_INSTALLATION = """
EXISTS (SELECT 1 FROM removed_repos AS r WHERE r.installation_id = ? AND (
  lower(r.repo) = lower(runs.repo)
  OR (r.repo LIKE '%/*' AND lower(substr(runs.repo, 1, length(r.repo) - 1))
                            = lower(substr(r.repo, 1, length(r.repo) - 1)))))
"""
