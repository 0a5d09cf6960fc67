"""The one package that talks to GitHub's REST API; `bot.github` is its public face."""
