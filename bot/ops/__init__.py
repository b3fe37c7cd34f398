"""Operations: sd_notify, systemd unit, logging, metrics/healthz, config watching, health alerts,
status, OPML (issue 4). Small modules the service calls; nothing here owns the event loop."""
