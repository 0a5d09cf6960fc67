"""Local GitHub emulator: REST subset, git over smart HTTP and signed webhooks."""
