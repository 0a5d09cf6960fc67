"""`baton register`: the GitHub App manifest flow, from `app.yml` to a working `./.env`."""
