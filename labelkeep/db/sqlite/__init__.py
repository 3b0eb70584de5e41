"""The embedded SQLite database backend (settings: ENGINE `labelkeep.db.sqlite`)."""
