"""The hub's repositories and who may do what on them."""

from __future__ import annotations

import time

from bot.localhub import gitstore
from bot.localhub.hub_oauth import OAuth
from bot.localhub.state import RANK, Principal, Repo

PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")


class Repos(OAuth):
    """Repositories (bare git on disk), collaborators, and the access a request is granted."""

    async def create_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        description: str | None = None,
        default_branch: str = "main",
        auto_init: bool = False,
    ) -> Repo:
        account = self.account(owner)
        now = time.time()
        repo = Repo(
            id=self.next_id(),
            owner=account.login,
            name=name,
            private=private,
            description=description,
            default_branch=default_branch,
            path=self.data_dir / account.login / f"{name}.git",
            created_at=now,
            pushed_at=now,
        )
        await gitstore.init(repo.path, default_branch)
        if auto_init:
            await gitstore.commit_file(
                repo.path,
                branch=default_branch,
                file_path="README.md",
                content=f"# {name}\n".encode(),
                message="Initial commit",
                name=account.login,
                email=f"{account.login}@users.noreply.localhub",
            )
        self.repos[repo.full_name.lower()] = repo
        return repo

    def set_permission(self, owner_repo: str, login: str, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"permission must be one of {', '.join(PERMISSIONS)}")
        repo = self.repos[owner_repo.lower()]
        self.create_user(login)
        repo.collaborators[login.lower()] = permission

    def access(self, who: Principal, repo: Repo, resource: str = "metadata") -> str:
        """What `who` may do on `repo` for one permission area: none, read or write."""
        public = "read" if not repo.private else "none"
        if who.token is not None:
            inst = self.installations[who.token.installation_id]
            scoped = who.token.repositories is None or repo.name.lower() in who.token.repositories
            if inst.account.lower() != repo.owner.lower() or not scoped:
                return public
            if inst.suspended_at is not None or repo.name.lower() in inst.removed:
                return public
            granted = who.token.permissions.get(resource, "read" if resource == "metadata" else "")
            return granted or public
        if who.kind == "user" and who.login:
            rank = RANK[self.permission(repo, who.login)]
            if rank >= RANK["write"] or (resource == "issues" and rank >= RANK["triage"]):
                return "write"
            return "read" if rank >= RANK["read"] else public
        return public
