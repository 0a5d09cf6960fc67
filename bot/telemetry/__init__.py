"""What Baton tells operators about itself: Prometheus metrics and OpenTelemetry traces."""
