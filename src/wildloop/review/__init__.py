"""Human labels: saving them with history and conflict checks, and review queues."""
