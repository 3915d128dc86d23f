"""Display helpers: what pages show, computed from services, never changing anything."""
