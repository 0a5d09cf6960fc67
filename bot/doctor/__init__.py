"""`baton doctor`: every check of a deployment as a value (`checks`), printed by `report`."""
