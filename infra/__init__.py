"""Everything that touches the outside world: settings, database, audit, logging, broker, PDF."""
