"""The live Baton check run: `view` folds the run's event log into what GitHub shows (pure),
`live` sends it while the run goes, off the agent's path."""
